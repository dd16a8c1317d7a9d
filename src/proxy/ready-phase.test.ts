import { describe, expect, test } from 'vitest';
import { serialize } from 'pg-protocol';
import { Backend, Frontend, type TxStatus } from '../protocol/codes.js';
import type { BindMessage, ParseMessage } from '../protocol/decode.js';
import { ProxyError } from '../protocol/sqlstate.js';
import type { GateDecision, HeldRequest, WriteGate } from './gate.js';
import type { SessionInspector } from './inspector.js';
import { ReadyPhase, type ReadyPhaseHost } from './ready-phase.js';
import { eachMessage } from './request-assembler.js';
import { TxPredictor } from './tx-predictor.js';
import { silentLogger } from '../util/log.js';

/**
 * The ready phase against a small model of the server, with a window open on partition p0 from
 * the start: the same client bytes, split at every offset, must give the same server bytes and
 * the same answers, and nothing rejected may commit.
 *
 * Statements of the model: `begin`, `commit`, `rollback`, `insert N` (writes pN), `fail` (an error).
 */
class FakeInspector implements SessionInspector {
  readonly tx = new TxPredictor();
  private readonly stmts = new Map<string, string>();
  private readonly portals = new Map<string, string>();
  get visible(): ReadonlySet<string> {
    return this.tx.visible;
  }
  query(sql: string): void {
    for (const s of sql.split(';')) this.run(s.trim());
  }
  parse(m: ParseMessage): void {
    this.stmts.set(m.name, m.sql);
  }
  bind(m: BindMessage): void {
    this.portals.set(m.portal, this.stmts.get(m.statement) ?? '');
  }
  execute(portal: string): void {
    this.run(this.portals.get(portal) ?? '');
  }
  private run(s: string): void {
    if (s === 'begin') this.tx.begin();
    else if (s === 'commit') this.tx.commit();
    else if (s === 'rollback') this.tx.rollback();
    else if (s.startsWith('insert ')) this.tx.write([`p${s.slice(7)}`]);
  }
  close(): void {}
  functionCall(): void {}
  takeRequest(): ReadonlySet<string> {
    return this.tx.takeRequest();
  }
  commandComplete(): void {}
  error(): void {}
  statementEnded(): void {}
  readyForQuery(status: TxStatus, answered: number): void {
    this.tx.readyForQuery(status, answered);
  }
  parameterStatus(): void {}
}

class FakeGate implements WriteGate {
  epoch = 1;
  held: HeldRequest[] = [];
  inflight = new Map<string, number>();
  constructor(
    readonly holding: Set<string>,
    readonly mode: 'hold' | 'reject',
  ) {}
  get active(): boolean {
    return this.holding.size > 0;
  }
  decide(visible: ReadonlySet<string>, _inTx: boolean, inflight: ReadonlySet<string>): GateDecision {
    for (const p of visible) {
      if (!this.holding.has(p)) continue;
      if ([...inflight].some((q) => this.holding.has(q))) continue;
      if (this.mode === 'reject') return { action: 'reject', error: new ProxyError('55P03', `paused ${p}`, 'ERROR') };
      return {
        action: 'hold',
        partition: p,
        enqueue: (r) => {
          this.held.push(r);
          return true;
        },
      };
    }
    return { action: 'pass' };
  }
  inflightAdd(ps: ReadonlySet<string>): void {
    for (const p of ps) this.inflight.set(p, (this.inflight.get(p) ?? 0) + 1);
  }
  inflightDone(ps: ReadonlySet<string>): void {
    for (const p of ps) this.inflight.set(p, (this.inflight.get(p) ?? 0) - 1);
  }
  forget(): void {}
  release(): void {
    this.holding.clear();
    for (const r of this.held.splice(0)) r.release();
  }
}

const msg = (type: number, body: Buffer | string = ''): Buffer => {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  const out = Buffer.alloc(5 + b.length);
  out[0] = type;
  out.writeInt32BE(4 + b.length, 1);
  b.copy(out, 5);
  return out;
};

/**
 * A model of PostgreSQL for the statements above: implicit blocks up to Sync (and for a
 * multi-statement Query), BEGIN folding, skip to Sync after an error, 'E' in a failed transaction.
 */
class FakeServer {
  status: TxStatus = 'I';
  /** Rows committed, in commit order. */
  committed: string[] = [];
  private block: string[] = [];
  private inBlock = false;
  private skipping = false;
  private readonly stmts = new Map<string, string>();
  private portal = '';
  private pending = Buffer.alloc(0);
  constructor(private readonly reply: (b: Buffer) => void) {}

  receive(data: Buffer): void {
    this.pending = Buffer.concat([this.pending, data]);
    let off = 0;
    while (off + 5 <= this.pending.length) {
      const end = off + 1 + this.pending.readInt32BE(off + 1);
      if (end > this.pending.length) break;
      this.message(this.pending[off]!, this.pending.subarray(off + 5, end));
      off = end;
    }
    this.pending = this.pending.subarray(off);
  }

  private message(type: number, body: Buffer): void {
    if (this.skipping && type !== Frontend.Sync) return;
    const cstr = (b: Buffer, from = 0): string => {
      const z = b.indexOf(0, from);
      if (z < 0) throw new Error('malformed');
      return b.toString('utf8', from, z);
    };
    try {
      switch (type) {
        case Frontend.Query: {
          if (body.indexOf(0) !== body.length - 1) throw new Error('malformed');
          const parts = cstr(body).split(';').map((s) => s.trim().toLowerCase());
          const implicit = parts.length > 1;
          for (const s of parts) this.exec(s, implicit);
          this.endImplicit();
          this.reply(msg(Backend.ReadyForQuery, this.status));
          return;
        }
        case Frontend.Parse: {
          const name = cstr(body);
          const text = cstr(body, name.length + 1);
          if (text.startsWith('quietcut')) throw new Error(`syntax error at or near "${text}"`);
          this.stmts.set(name, text);
          this.reply(msg(Backend.ParseComplete));
          return;
        }
        case Frontend.Bind:
          this.portal = this.stmts.get(cstr(body, cstr(body).length + 1)) ?? '';
          this.reply(msg(Backend.BindComplete));
          return;
        case Frontend.Execute:
          this.exec(this.portal, true);
          return;
        case Frontend.Sync:
          this.skipping = false;
          this.endImplicit();
          this.reply(msg(Backend.ReadyForQuery, this.status));
          return;
        default:
          return;
      }
    } catch (err) {
      this.fail((err as Error).message);
      if (type === Frontend.Query) {
        this.endImplicit();
        this.reply(msg(Backend.ReadyForQuery, this.status));
      } else {
        this.skipping = true;
      }
    }
  }

  private exec(s: string, implicit: boolean): void {
    if (s === 'fail') throw new Error('fail');
    if (this.status === 'E' && s !== 'rollback' && s !== 'commit') throw new Error('aborted');
    if (s === 'begin') {
      this.status = 'T';
      this.inBlock = false; // folded into the transaction
    } else if (s === 'commit' || s === 'rollback') {
      if (s === 'commit' && this.status === 'T') this.committed.push(...this.block);
      this.block = [];
      this.status = 'I';
      this.inBlock = false;
    } else if (s.startsWith('insert ')) {
      this.block.push(s);
      if (this.status === 'I') this.inBlock = true;
      if (this.status === 'I' && !implicit) this.endImplicit();
    }
    this.reply(msg(Backend.CommandComplete, `${s}\0`));
  }

  private endImplicit(): void {
    if (this.status === 'I' && this.inBlock) this.committed.push(...this.block);
    if (this.status === 'I') this.block = [];
    this.inBlock = false;
  }

  private fail(message: string): void {
    this.reply(msg(Backend.ErrorResponse, `SERROR\0C42000\0M${message}\0\0`));
    if (this.status === 'T') this.status = 'E';
    else {
      this.block = [];
      this.inBlock = false;
    }
  }
}

/** `openAt`: the window on p0 starts before chunk `openAt` is read (0: open from the start). */
function run(chunks: Buffer[], mode: 'hold' | 'reject', openAt = 0): { toServer: string; client: string[]; committed: string[]; gate: FakeGate } {
  const gate = new FakeGate(new Set(openAt === 0 ? ['p0'] : []), mode);
  const inspector = new FakeInspector();
  const sent: Buffer[] = [];
  const client: string[] = [];
  // Answers go back one tick later, as over a socket: the proxy sees them after it has read ahead.
  const replies: Buffer[] = [];
  const server = new FakeServer((b) => replies.push(b));
  const host: ReadyPhaseHost = {
    gate,
    inspector,
    ready: true,
    log: silentLogger,
    heldNoticeAfterMs: null,
    startupMessage: () => undefined,
    serverError: () => undefined,
    serverWillEnd: () => undefined,
    toServer: (d) => {
      sent.push(Buffer.from(d));
      server.receive(d);
    },
    toClient: (d) => {
      eachMessage(Buffer.from(d), (t, s, e) => {
        const body = d.subarray(s + 5, e);
        client.push(t === Backend.ReadyForQuery ? `Z${body.toString()}` : t === Backend.ErrorResponse ? `E${/C([0-9A-Z]{5})/.exec(body.toString())![1]}` : String.fromCharCode(t));
      });
    },
    pauseClient: () => undefined,
    resumeClient: () => undefined,
    fatal: (e) => {
      throw e;
    },
    terminated: () => undefined,
    settled: () => undefined,
  };
  const phase = new ReadyPhase(host, { maxMessageBytes: 1 << 20, bufferBudget: null, messageTimeoutMs: 0 }, (r) => {
    throw new Error(r);
  });
  const drainReplies = (): void => {
    while (replies.length > 0) phase.serverData(Buffer.concat(replies.splice(0)));
  };
  for (const [i, c] of chunks.entries()) {
    if (i === openAt) gate.holding.add('p0');
    phase.clientData(c);
    drainReplies();
  }
  drainReplies();
  if (mode === 'hold') {
    gate.release();
    drainReplies();
  }
  return { toServer: Buffer.concat(sent).toString('hex'), client, committed: server.committed, gate };
}

const q = (s: string): Buffer => serialize.query(s);
const ext = (s: string): Buffer => Buffer.concat([serialize.parse({ text: s }), serialize.bind({}), serialize.execute({})]);

/** Legal traffic exercising every reject path: pipelined transactions, folding, Flush parts, errors. */
const stream = Buffer.concat([
  q('begin'),
  q('insert 1'),
  q('insert 0'),
  q('commit'), // rejected: must roll back 1 and 0
  q('commit'), // the client's next COMMIT commits nothing
  q('insert 1; begin'), // folded
  q('insert 0'),
  q('commit'), // rejected
  ext('insert 1'),
  serialize.flush(), // first part runs
  ext('insert 0'),
  serialize.sync(), // rejected: the first part is undone
  ext('insert 0'),
  serialize.flush(), // rejected at Flush: skip to Sync
  ext('insert 1'),
  serialize.sync(),
  q('fail; begin'), // the BEGIN is skipped
  q('insert 0'), // autocommit: rejected
  q('insert 1'), // passes and commits
]);

describe('ReadyPhase with a window open (reject mode)', () => {
  test('nothing rejected commits; the client is told what the server did', () => {
    const r = run([stream], 'reject');
    expect(r.committed).toEqual(['insert 1']);
    const answers = r.client.filter((m) => m.startsWith('Z') || m.startsWith('E'));
    expect(answers).toEqual([
      'ZT', // begin
      'ZT', // insert 1
      'ZT', // insert 0
      'E55P03',
      'ZI', // commit rejected: idle, as the server is
      'ZI', // commit: nothing open
      'ZT', // insert 1; begin
      'ZT', // insert 0
      'E55P03',
      'ZI',
      'E55P03', // the Sync-ended request whose first part ran
      'ZI',
      'E55P03', // rejected at Flush
      'ZI', // at its Sync
      'E42000', // fail; begin
      'ZI',
      'E55P03', // insert 0, autocommit because the BEGIN was skipped
      'ZI',
      'ZI', // insert 1
    ]);
    for (const [, n] of r.gate.inflight) expect(n).toBe(0);
  });

  test('the same bytes reach the server and the same answers the client at every split offset', () => {
    const whole = run([stream], 'reject');
    for (let i = 1; i < stream.length; i++) {
      const r = run([stream.subarray(0, i), stream.subarray(i)], 'reject');
      expect(r.client, `split at ${i}`).toEqual(whole.client);
      expect(r.committed, `split at ${i}`).toEqual(whole.committed);
      expect(r.toServer, `split at ${i}`).toBe(whole.toServer);
    }
  });
});

describe('ReadyPhase with a window open (hold mode)', () => {
  test('held requests commit only after release, in order; answers match the server', () => {
    const r = run([stream], 'hold');
    // every insert 0 that the client committed is committed after release, none lost
    expect(r.committed.filter((s) => s === 'insert 0').length).toBeGreaterThan(0);
    expect(r.client.filter((m) => m.startsWith('E')).every((m) => m === 'E42000')).toBe(true);
    for (const [, n] of r.gate.inflight) expect(n).toBe(0);
  });

  test('at every split offset the outcome is the same', () => {
    const whole = run([stream], 'hold');
    for (let i = 1; i < stream.length; i += 3) {
      const r = run([stream.subarray(0, i), stream.subarray(i)], 'hold');
      expect(r.client, `split at ${i}`).toEqual(whole.client);
      expect(r.committed, `split at ${i}`).toEqual(whole.committed);
    }
  });
});

describe('ReadyPhase when a window starts between two chunks of a request', () => {
  // The model server runs an Execute whatever its row count says, as PostgreSQL does: a COMMIT
  // whose Execute was half forwarded when the window began must not be completed by a filler.
  const request = Buffer.concat([ext('begin'), ext('insert 0'), ext('commit'), serialize.sync()]);
  const commitWhole = request.length - 5;

  test('reject mode: the COMMIT commits only if its Execute was whole before the window (then the drain waits for it); the client is told what the server did', () => {
    for (let i = 1; i < request.length; i++) {
      const r = run([request.subarray(0, i), request.subarray(i)], 'reject', 1);
      const admitted = i >= commitWhole;
      expect(r.committed, `split at ${i}`).toEqual(admitted ? ['insert 0'] : []);
      expect(r.client.filter((m) => m.startsWith('E')), `split at ${i}`).toEqual(admitted ? [] : ['E55P03']);
      expect(r.client.at(-1), `split at ${i}`).toBe('ZI');
      for (const [, n] of r.gate.inflight) expect(n, `split at ${i}`).toBe(0);
    }
  });

  test('hold mode: at every split the COMMIT commits once, without an error', () => {
    for (let i = 1; i < request.length; i++) {
      const r = run([request.subarray(0, i), request.subarray(i)], 'hold', 1);
      expect(r.committed, `split at ${i}`).toEqual(['insert 0']);
      expect(r.client.filter((m) => m.startsWith('E')), `split at ${i}`).toEqual([]);
    }
  });

  test('no window: bytes reach the server unchanged at every split, a half message that runs only once whole', () => {
    const whole = run([request], 'reject', 99);
    for (let i = 1; i < request.length; i++) {
      const r = run([request.subarray(0, i), request.subarray(i)], 'reject', 99);
      expect(r.toServer, `split at ${i}`).toBe(whole.toServer);
      expect(r.committed, `split at ${i}`).toEqual(['insert 0']);
    }
  });
});
