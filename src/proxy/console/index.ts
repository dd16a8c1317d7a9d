import type { Socket } from 'node:net';
import { encodeErrorResponse } from '../../protocol/encode.js';
import { SqlState } from '../../protocol/sqlstate.js';
import type { Logger } from '../../util/log.js';
import { authenticateUpstream, type AuthUpstream } from './auth.js';
import type { ConsoleCommand } from './commands.js';
import { ConsoleSession } from './session.js';

export { ConsoleError, parseDurationMs, type ConsoleCaller, type ConsoleCommand, type ResultSet } from './commands.js';
export type { Cell, Column } from './wire.js';

/** What the console needs from the node; read on every connection, so a reload applies at once. */
export interface ConsoleOptions {
  /** The virtual database a client names to reach the console. */
  database: string;
  /** Roles allowed in; others are refused before anything reaches the server. */
  allowed: () => readonly string[];
  /** The real database console roles authenticate to. */
  authDatabase: () => string;
  upstream: AuthUpstream;
  authTimeoutMs: number;
  /** The commands, by verb (SHOW WINDOWS, PAUSE…). Wired in cli/run-node.ts: the proxy knows nothing of windows. */
  commands: ReadonlyMap<string, ConsoleCommand>;
  log: Logger;
}

/** Most console clients at once: it is for operators, not applications. */
const MAX_CONSOLE_SESSIONS = 32;

/**
 * The admin console on the proxy's own port (as PgBouncer's `pgbouncer` database): a client that
 * names `console.database` is authenticated by the upstream server as its role, then answered
 * here. A role not in `console.roles` is refused with 28000; one the server refuses gets the
 * server's own error.
 */
export class ConsoleServer {
  readonly sessions = new Set<ConsoleSession>();
  private authenticating = 0;

  constructor(private readonly opts: ConsoleOptions) {}

  get database(): string {
    return this.opts.database;
  }

  open(client: Socket, params: ReadonlyMap<string, string>, rest: Buffer): void {
    const user = params.get('user') ?? '';
    const refuse = (sqlState: string, message: string, hint?: string): void => {
      client.on('error', () => undefined);
      client.end(encodeErrorResponse({ severity: 'FATAL', sqlState, message, detail: undefined, hint }));
    };
    if (!this.opts.allowed().includes(user)) {
      this.opts.log.warn({ user }, 'console login refused: role not in console.roles');
      refuse(SqlState.InvalidAuthorization, `role "${user}" may not use the quietcut console`, 'Allowed roles are listed in console.roles.');
      return;
    }
    if (this.sessions.size + this.authenticating >= MAX_CONSOLE_SESSIONS) {
      refuse(SqlState.TooManyConnections, `sorry, too many quietcut console clients already (${MAX_CONSOLE_SESSIONS})`);
      return;
    }
    const addr = `${client.remoteAddress ?? '?'}:${client.remotePort ?? '?'}`;
    this.authenticating++;
    if (rest.length > 0) client.unshift(rest);
    authenticateUpstream(client, params, this.opts.authDatabase(), this.opts.upstream, this.opts.authTimeoutMs)
      .then((o) => {
        this.authenticating--;
        if (!o.ok) {
          this.opts.log.info({ user, reason: o.reason }, 'console login failed');
          client.on('error', () => undefined);
          client.end();
          return;
        }
        const s = new ConsoleSession(client, { user, client: addr }, this.opts.commands, this.opts.log, (x) => this.sessions.delete(x));
        this.sessions.add(s);
        this.opts.log.info({ user, client: addr }, 'console login');
      })
      .catch((err: unknown) => {
        this.authenticating--;
        this.opts.log.warn({ err }, 'console login failed');
        client.destroy();
      });
  }

  close(): void {
    for (const s of [...this.sessions]) s.close();
  }
}
