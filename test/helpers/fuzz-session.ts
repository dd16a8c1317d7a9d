import { RawClient, serialize } from './raw-client.js';

/** The same seed gives the same traffic. */
export { rng as prng } from '../../src/planner/test-helpers.js';

type Msg = { name: string; status?: string; code?: string; text?: string; fields?: string[] };

interface Unit {
  bytes: Buffer;
  /** ReadyForQuery messages it is answered with. */
  answers: number;
  statements: number;
}

const q = (sql: string): Buffer => serialize.query(sql);
const ext = (sql: string): Buffer => Buffer.concat([serialize.parse({ text: sql }), serialize.bind({}), serialize.execute({})]);

/**
 * One fuzzing client: random but legal traffic over raw bytes (simple and extended protocol,
 * pipelines with and without Sync, Flush, COPY, explicit transactions, savepoints, 2PC,
 * multi-statement Query strings, SQL PREPARE/EXECUTE, session settings), and the client's own
 * reading of the answers: which of its rows it was told are committed, and when.
 *
 * Rows are `insert … returning id`, so every row the server inserted is reported by id; the
 * reading follows PostgreSQL's rules (an error rolls back an implicit block, ROLLBACK TO keeps
 * rows before the savepoint, COMMIT of a failed transaction answers ROLLBACK).
 */
export class FuzzSession {
  /** Rows the client was told are committed, with the time it learnt it (performance.now()). */
  readonly committed = new Map<number, number>();
  readonly partitionOf = new Map<number, number>();
  /** Which kind of unit (the case in unit(), 14: COPY) wrote each row: for the failure report. */
  readonly unitOf = new Map<number, number>();
  private unitKind = -1;
  statements = 0;
  rejected = 0;
  private raw!: RawClient;
  private block: number[] = [];
  private marks: number[] = [];
  private errorInRequest = false;
  private rollbackSeen = false;
  private prepared: number[] | null = null;
  private gid = '';
  private copyIds: number[] = [];
  private gidSeq = 0;
  private twoPhase = false;
  /** Message types of the last bytes sent, for the failure report. */
  private lastSent = '';

  constructor(
    readonly n: number,
    private readonly rand: () => number,
    private readonly nextId: () => number,
    private readonly partitions: number,
  ) {}

  async open(port: number): Promise<void> {
    this.raw = await RawClient.startup(port, 'postgres', 'demo');
    // statements prepared once: a protocol-level one and a SQL-level one
    this.send(Buffer.concat([serialize.parse({ name: 'ins_p', text: 'insert into f values ($1, $2) returning id' }), serialize.sync(), q('prepare ins_sql (bigint, int) as insert into f values ($1, $2) returning id')]));
    await this.answers(2);
  }

  close(): void {
    this.raw.end();
  }

  private send(bytes: Buffer): void {
    let types = '';
    let off = 0;
    while (off + 5 <= bytes.length) {
      types += String.fromCharCode(bytes[off]!);
      off += 1 + bytes.readInt32BE(off + 1);
    }
    this.lastSent += ` [${types}]`;
    this.raw.send(bytes);
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rand() * xs.length)]!;
  }

  private row(): { id: number; p: number; sql: string } {
    const id = this.nextId();
    const p = Math.floor(this.rand() * this.partitions);
    this.partitionOf.set(id, p);
    this.unitOf.set(id, this.unitKind);
    return { id, p, sql: `insert into f values (${id}, ${p}) returning id` };
  }

  /** One random unit of pipelinable traffic; the server is idle after it (unless it failed in a transaction, which a later unit ends). */
  private unit(): Unit {
    let kind = Math.floor(this.rand() * 14);
    // one prepared transaction per batch, so its gid is known when it has to be rolled back
    if (kind === 13 && this.twoPhase) kind = 0;
    this.unitKind = kind;
    switch (kind) {
      case 0:
        return { bytes: q(this.row().sql), answers: 1, statements: 1 };
      case 1: {
        const a = this.row();
        return { bytes: Buffer.concat([serialize.bind({ statement: 'ins_p', values: [String(a.id), String(a.p)] }), serialize.execute({}), serialize.sync()]), answers: 1, statements: 1 };
      }
      case 2:
        return { bytes: q(`${this.row().sql}; ${this.row().sql}`), answers: 1, statements: 2 };
      case 3: {
        const n = 1 + Math.floor(this.rand() * 3);
        const parts = [q('begin')];
        for (let i = 0; i < n; i++) parts.push(q(this.row().sql));
        parts.push(q(this.rand() < 0.85 ? 'commit' : 'rollback'));
        return { bytes: Buffer.concat(parts), answers: n + 2, statements: n + 2 };
      }
      case 4:
        return { bytes: q(`begin; ${this.row().sql}; ${this.row().sql}; commit`), answers: 1, statements: 4 };
      case 5:
        return {
          bytes: Buffer.concat([q('begin'), q(this.row().sql), q('savepoint s'), q(this.row().sql), q('rollback to savepoint s'), q(this.row().sql), q('release s'), q('commit')]),
          answers: 8,
          statements: 8,
        };
      case 6:
        // PostgreSQL folds the INSERT into the transaction the BEGIN opens
        return { bytes: Buffer.concat([q(`${this.row().sql}; begin`), q(this.row().sql), q('commit')]), answers: 3, statements: 4 };
      case 7:
        return { bytes: Buffer.concat([ext('begin'), ext(this.row().sql), ext(this.row().sql), ext('commit'), serialize.sync()]), answers: 1, statements: 4 };
      case 8:
        return { bytes: Buffer.concat([ext(this.row().sql), serialize.flush(), ext(this.row().sql), serialize.sync()]), answers: 1, statements: 2 };
      case 9: {
        const a = this.row();
        if (this.rand() < 0.5) return { bytes: q(`execute ins_sql(${a.id}, ${a.p})`), answers: 1, statements: 1 };
        return { bytes: Buffer.concat([serialize.bind({ statement: 'ins_sql', values: [String(a.id), String(a.p)] }), serialize.execute({}), serialize.sync()]), answers: 1, statements: 1 };
      }
      case 10:
        return { bytes: q(this.pick(["set application_name = 'fuzz'", 'set search_path = public', 'reset search_path', "set statement_timeout = '30s'"])), answers: 1, statements: 1 };
      case 11:
        return { bytes: q(`${this.row().sql}; select 1/0`), answers: 1, statements: 2 };
      case 12:
        return {
          bytes: Buffer.concat([q('begin'), q(this.row().sql), q('savepoint s'), q('select 1/0'), q('rollback to savepoint s'), q(this.row().sql), q('commit')]),
          answers: 7,
          statements: 7,
        };
      default: {
        this.gid = `fz_${this.n}_${this.gidSeq++}`;
        this.twoPhase = true;
        return {
          bytes: Buffer.concat([q('begin'), q(this.row().sql), q(`prepare transaction '${this.gid}'`), q(`commit prepared '${this.gid}'`)]),
          answers: 4,
          statements: 4,
        };
      }
    }
  }

  /** One batch: a pipeline of units in one write (sometimes split in time), or a COPY. */
  async batch(): Promise<void> {
    this.twoPhase = false;
    this.lastSent = '';
    if (this.rand() < 0.12) {
      await this.copy();
      return;
    }
    const units: Unit[] = [];
    const n = 1 + Math.floor(this.rand() * 4);
    for (let i = 0; i < n; i++) units.push(this.unit());
    const bytes = Buffer.concat(units.map((u) => u.bytes));
    const answers = units.reduce((s, u) => s + u.answers, 0);
    this.statements += units.reduce((s, u) => s + u.statements, 0);
    if (this.rand() < 0.3) {
      // split in time, at any byte: requests (and messages) arriving across a window's start
      const cut = 1 + Math.floor(this.rand() * (bytes.length - 1));
      this.send(bytes.subarray(0, cut));
      await new Promise((r) => setTimeout(r, Math.floor(this.rand() * 4)));
      this.send(bytes.subarray(cut));
    } else {
      this.send(bytes);
    }
    await this.answers(answers);
    await this.settlePrepared();
  }

  /** COPY FROM STDIN, simple or extended protocol, sometimes with the next request in the same packet as CopyDone. */
  private async copy(): Promise<void> {
    this.unitKind = 14; // for the failure report: COPY is kind 14
    const rows = Array.from({ length: 1 + Math.floor(this.rand() * 3) }, () => this.row());
    this.copyIds = rows.map((r) => r.id);
    const data = serialize.copyData(Buffer.from(rows.map((r) => `${r.id}\t${r.p}\n`).join('')));
    const extended = this.rand() < 0.5;
    this.statements += 1;
    this.send(extended ? Buffer.concat([ext('copy f from stdin'), serialize.sync()]) : q('copy f from stdin'));
    await this.raw.until((m) => m.name === 'copyInResponse' || m.name === 'readyForQuery', 60_000);
    const copying = (this.raw.messages as unknown as Msg[]).some((m) => m.name === 'copyInResponse');
    if (!copying) {
      await this.answers(1);
      return;
    }
    const end = this.rand() < 0.15 ? serialize.copyFail('fuzz gave up') : serialize.copyDone();
    const after = this.rand() < 0.5 ? this.unit() : null;
    if (after) this.statements += after.statements;
    this.send(Buffer.concat([data, end, ...(extended ? [serialize.sync()] : []), ...(after ? [after.bytes] : [])]));
    await this.answers(1 + (after?.answers ?? 0));
    await this.settlePrepared();
  }

  /** A prepared transaction whose COMMIT PREPARED failed (rejected in a window) is rolled back. */
  private async settlePrepared(): Promise<void> {
    if (this.prepared === null) return;
    this.send(q(`rollback prepared '${this.gid}'`));
    this.statements += 1;
    await this.answers(1);
  }

  /** Wait for n ReadyForQuery, reading every message on the way. */
  private async answers(n: number): Promise<void> {
    try {
      await this.raw.countOf('readyForQuery', n, 60_000);
    } catch (err) {
      throw new Error(`session ${this.n}: ${(err as Error).message}; last sent: ${this.lastSent}`);
    }
    const msgs = this.raw.messages.splice(0) as unknown as Msg[];
    for (const m of msgs) this.read(m);
  }

  private read(m: Msg): void {
    switch (m.name) {
      case 'dataRow':
        this.block.push(Number(m.fields![0]));
        return;
      case 'commandComplete': {
        const tag = m.text ?? '';
        if (tag === 'COMMIT') this.commit(this.block);
        else if (tag === 'ROLLBACK') this.rollbackSeen = true;
        else if (tag === 'SAVEPOINT') this.marks.push(this.block.length);
        else if (tag === 'RELEASE') this.marks.pop();
        else if (tag === 'PREPARE TRANSACTION') {
          this.prepared = this.block;
          this.block = [];
          this.marks = [];
        } else if (tag === 'COMMIT PREPARED') {
          this.commit(this.prepared ?? []);
          this.prepared = null;
        } else if (tag === 'ROLLBACK PREPARED') this.prepared = null;
        else if (tag.startsWith('COPY ')) this.block.push(...this.copyIds);
        return;
      }
      case 'error':
        if (m.code === '55P03' || m.code === '53400') this.rejected++;
        this.errorInRequest = true;
        return;
      case 'readyForQuery':
        if (this.rollbackSeen) {
          // ROLLBACK (idle after it) or ROLLBACK TO SAVEPOINT (still in the transaction); sent alone in a Query
          if (m.status === 'I') this.block = [];
          else this.block.length = this.marks.at(-1) ?? 0;
        }
        if (m.status === 'I') {
          if (!this.errorInRequest && !this.rollbackSeen) this.commit(this.block);
          this.block = [];
          this.marks = [];
        }
        this.errorInRequest = false;
        this.rollbackSeen = false;
        return;
      default:
        return;
    }
  }

  private commit(ids: number[]): void {
    const now = performance.now();
    for (const id of ids) this.committed.set(id, now);
    if (ids === this.block) {
      this.block = [];
      this.marks = [];
    }
  }
}
