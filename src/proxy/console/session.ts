import type { Socket } from 'node:net';
import { Frontend } from '../../protocol/codes.js';
import { decodeParse, decodeQuery, decodeTarget } from '../../protocol/decode.js';
import { encodeErrorResponse, encodeNotice, encodeReadyForQuery } from '../../protocol/encode.js';
import { SqlState } from '../../protocol/sqlstate.js';
import type { Logger } from '../../util/log.js';
import { ConsoleError, parseStatement, splitStatements, type ConsoleCaller, type ConsoleCommand, type ConsoleStatement } from './commands.js';
import {
  BIND_COMPLETE,
  CLOSE_COMPLETE,
  EMPTY_QUERY,
  NO_DATA,
  NO_PARAMETERS,
  PARSE_COMPLETE,
  encodeCommandComplete,
  encodeDataRow,
  encodeRowDescription,
} from './wire.js';

/** Largest message a console client may send. */
const MAX_CONSOLE_MESSAGE_BYTES = 1024 * 1024;

interface Portal {
  sql: string;
}

/**
 * One authenticated console client: answers each statement with an ordinary result set, in the
 * simple protocol (psql) and the extended one (drivers: Parse/Bind/Describe/Execute/Sync).
 * Messages are handled strictly in order, one at a time (commands may be asynchronous).
 */
export class ConsoleSession {
  private buf: Buffer = Buffer.alloc(0);
  private chain: Promise<void> = Promise.resolve();
  private readonly statements = new Map<string, string>();
  private readonly portals = new Map<string, Portal>();
  /** After an error in an extended-protocol request, messages are skipped up to Sync. */
  private skipToSync = false;
  private closed = false;
  readonly connectedAt = new Date();

  constructor(
    private readonly sock: Socket,
    readonly caller: ConsoleCaller,
    private readonly commands: ReadonlyMap<string, ConsoleCommand>,
    private readonly log: Logger,
    private readonly onClose: (s: ConsoleSession) => void,
  ) {
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    sock.on('error', () => this.close());
    sock.on('close', () => this.close());
    sock.resume();
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    let off = 0;
    while (this.buf.length - off >= 5) {
      const len = this.buf.readInt32BE(off + 1);
      if (len < 4 || len > MAX_CONSOLE_MESSAGE_BYTES) {
        this.fatal(`invalid message length ${len}`);
        return;
      }
      if (this.buf.length - off < 1 + len) break;
      const type = this.buf[off]!;
      // The whole message, header too: the protocol decoders read from the header.
      const msg = Buffer.from(this.buf.subarray(off, off + 1 + len));
      off += 1 + len;
      this.chain = this.chain.then(() => this.handle(type, msg)).catch((err: unknown) => {
        this.log.warn({ err }, 'console message failed');
        this.fatal('internal error in the console');
      });
    }
    this.buf = off === this.buf.length ? Buffer.alloc(0) : Buffer.from(this.buf.subarray(off));
  }

  private async handle(type: number, msg: Buffer): Promise<void> {
    if (this.closed) return;
    if (this.skipToSync && type !== Frontend.Sync && type !== Frontend.Terminate) return;
    switch (type) {
      case Frontend.Query:
        await this.simpleQuery(decodeQuery(msg, 0, msg.length));
        return;
      case Frontend.Parse: {
        const p = decodeParse(msg, 0, msg.length);
        this.statements.set(p.name, p.sql);
        this.write(PARSE_COMPLETE);
        return;
      }
      case Frontend.Bind: {
        // portal name, statement name; console commands take no parameters
        const portal = cstr(msg, 5);
        const stmt = cstr(msg, portal.end);
        const sql = this.statements.get(stmt.value);
        if (sql === undefined) return this.extendedError(new ConsoleError(SqlState.UndefinedStatement, `prepared statement "${stmt.value}" does not exist`));
        this.portals.set(portal.value, { sql });
        this.write(BIND_COMPLETE);
        return;
      }
      case Frontend.Describe: {
        const t = decodeTarget(msg, 0, msg.length);
        const sql = t.kind === 'S' ? this.statements.get(t.name) : this.portals.get(t.name)?.sql;
        if (sql === undefined) return this.extendedError(new ConsoleError(SqlState.UndefinedStatement, `${t.kind === 'S' ? 'prepared statement' : 'portal'} "${t.name}" does not exist`));
        if (t.kind === 'S') this.write(NO_PARAMETERS);
        const cmd = this.single(sql);
        if (cmd instanceof ConsoleError) return this.extendedError(cmd);
        this.write(cmd && cmd.command.columns.length > 0 ? encodeRowDescription(cmd.command.columns) : NO_DATA);
        return;
      }
      case Frontend.Execute: {
        const name = cstr(msg, 5).value;
        const portal = this.portals.get(name);
        if (!portal) return this.extendedError(new ConsoleError(SqlState.UndefinedStatement, `portal "${name}" does not exist`));
        const cmd = this.single(portal.sql);
        if (cmd instanceof ConsoleError) return this.extendedError(cmd);
        if (!cmd) {
          this.write(EMPTY_QUERY);
          return;
        }
        const ok = await this.run(cmd.command, cmd.stmt, false);
        if (!ok) this.skipToSync = true;
        return;
      }
      case Frontend.Close: {
        const t = decodeTarget(msg, 0, msg.length);
        if (t.kind === 'S') this.statements.delete(t.name);
        else this.portals.delete(t.name);
        this.write(CLOSE_COMPLETE);
        return;
      }
      case Frontend.Sync:
        this.skipToSync = false;
        this.portals.delete('');
        this.write(encodeReadyForQuery('I'));
        return;
      case Frontend.Flush:
        return;
      case Frontend.Terminate:
        this.close();
        return;
      default:
        this.fatal(`unexpected message type ${JSON.stringify(String.fromCharCode(type))} in the quietcut console`);
    }
  }

  private async simpleQuery(sql: string): Promise<void> {
    const parts = splitStatements(sql);
    if (parts.length === 0) this.write(EMPTY_QUERY);
    for (const text of parts) {
      const cmd = this.single(text);
      if (cmd instanceof ConsoleError) {
        this.writeError(cmd);
        break;
      }
      if (!cmd) continue;
      if (!(await this.run(cmd.command, cmd.stmt, true))) break;
    }
    this.write(encodeReadyForQuery('I'));
  }

  /** The command one statement names; null for an empty statement; a ConsoleError for anything else. */
  private single(sql: string): { command: ConsoleCommand; stmt: ConsoleStatement } | ConsoleError | null {
    const parts = splitStatements(sql);
    if (parts.length === 0) return null;
    if (parts.length > 1) return new ConsoleError(SqlState.ConsoleSyntaxError, 'cannot insert multiple commands into a prepared statement');
    const stmt = parseStatement(parts[0]!, new Set(this.commands.keys()));
    if (!stmt) {
      return new ConsoleError(SqlState.ConsoleSyntaxError, `unknown quietcut console command: ${parts[0]!.slice(0, 80)}`, 'SHOW HELP lists the commands.');
    }
    return { command: this.commands.get(stmt.verb)!, stmt };
  }

  /** Run one command and write its result; false when it failed (its error was written). */
  private async run(command: ConsoleCommand, stmt: ConsoleStatement, describe: boolean): Promise<boolean> {
    try {
      const r = await command.run(stmt.args, this.caller);
      for (const n of r.notices ?? []) this.write(encodeNotice(n));
      if (describe && command.columns.length > 0) this.write(encodeRowDescription(command.columns));
      for (const row of r.rows) this.write(encodeDataRow(row));
      this.write(encodeCommandComplete(r.tag ?? (command.columns.length > 0 ? `SELECT ${r.rows.length}` : command.verb)));
      this.log.info({ user: this.caller.user, command: stmt.text.slice(0, 200) }, 'console command');
      return true;
    } catch (err) {
      this.writeError(err instanceof ConsoleError ? err : new ConsoleError(SqlState.InternalError, err instanceof Error ? err.message : String(err)));
      return false;
    }
  }

  private extendedError(err: ConsoleError): void {
    this.writeError(err);
    this.skipToSync = true;
  }

  private writeError(err: ConsoleError): void {
    this.write(encodeErrorResponse({ severity: 'ERROR', sqlState: err.sqlState, message: err.message, detail: undefined, hint: err.hint }));
  }

  private write(b: Buffer): void {
    if (!this.closed) this.sock.write(b);
  }

  private fatal(message: string): void {
    this.write(encodeErrorResponse({ severity: 'FATAL', sqlState: SqlState.ProtocolViolation, message, detail: undefined, hint: undefined }));
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.end();
    setTimeout(() => this.sock.destroy(), 1000).unref();
    this.onClose(this);
  }
}

function cstr(b: Buffer, from: number): { value: string; end: number } {
  const z = b.indexOf(0, from);
  const end = z < 0 ? b.length : z;
  return { value: b.toString('utf8', from, end), end: end + 1 };
}
