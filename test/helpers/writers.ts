import pg from 'pg';
import { RawClient, serialize } from './raw-client.js';

/** One write a test client sent, and what happened to it. */
export interface WriteRecord {
  id: number;
  p: number;
  sess: number;
  seq: number;
  tx: number | null;
  sentAt: number;
  ackAt: number | null;
  error: string | null;
}

export type WriterKind = 'simple' | 'extended' | 'transaction' | 'pipelined';

let nextId = 1;
export function freshId(): number {
  return nextId++;
}

/**
 * A client that writes rows (id, p, sess, seq) into table `w` until stopped, recording the send
 * and acknowledgement time of every write. Partitions are chosen by `pick`.
 */
export class Writer {
  readonly records: WriteRecord[] = [];
  private stopped = false;
  /** Its connection is gone (a proxy process was killed): it writes no more. */
  lost = false;
  private seq = 0;
  done: Promise<void> = Promise.resolve();

  constructor(
    readonly sess: number,
    readonly kind: WriterKind,
    private readonly url: string,
    private readonly port: number,
    private readonly pick: () => number,
    private readonly table = 'w',
  ) {}

  start(): void {
    this.done = this.kind === 'pipelined' ? this.runPipelined() : this.runPg();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  private rec(p: number, tx: number | null): WriteRecord {
    const r: WriteRecord = { id: freshId(), p, sess: this.sess, seq: this.seq++, tx, sentAt: performance.now(), ackAt: null, error: null };
    this.records.push(r);
    return r;
  }

  private async runPg(): Promise<void> {
    const c = new pg.Client({ connectionString: this.url });
    c.on('error', () => (this.lost = true));
    c.on('end', () => (this.lost = true));
    await c.connect();
    const ins = `insert into ${this.table} (id, p, sess, seq, tx) values ($1, $2, $3, $4, $5)`;
    try {
      while (!this.stopped && !this.lost) {
        if (this.kind === 'transaction') {
          const a = this.pick();
          let b = this.pick();
          for (let i = 0; i < 50 && b === a; i++) b = this.pick();
          if (b === a) b = (a + 1) % 8;
          const tx = freshId();
          const r1 = this.rec(a, tx);
          const r2 = this.rec(b, tx);
          try {
            await c.query('begin');
            await c.query(ins, [r1.id, r1.p, r1.sess, r1.seq, tx]);
            await c.query(ins, [r2.id, r2.p, r2.sess, r2.seq, tx]);
            await c.query('commit');
            r1.ackAt = r2.ackAt = performance.now();
          } catch (err) {
            r1.error = r2.error = (err as { code?: string }).code ?? String(err);
            await c.query('rollback').catch(() => undefined);
          }
        } else {
          const r = this.rec(this.pick(), null);
          try {
            if (this.kind === 'simple') await c.query(`insert into ${this.table} (id, p, sess, seq) values (${r.id}, ${r.p}, ${r.sess}, ${r.seq})`);
            else await c.query(ins, [r.id, r.p, r.sess, r.seq, null]);
            r.ackAt = performance.now();
          } catch (err) {
            r.error = (err as { code?: string }).code ?? String(err);
          }
        }
      }
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  /** Five autocommit inserts pipelined in one write, acknowledged one ReadyForQuery each. */
  private async runPipelined(): Promise<void> {
    const raw = await RawClient.startup(this.port);
    try {
      while (!this.stopped) {
        const batch = Array.from({ length: 5 }, () => this.rec(this.pick(), null));
        const parts: Buffer[] = [];
        for (const r of batch) {
          parts.push(serialize.parse({ text: `insert into ${this.table} (id, p, sess, seq) values ($1, $2, $3, $4)` }));
          parts.push(serialize.bind({ values: [String(r.id), String(r.p), String(r.sess), String(r.seq)] }));
          parts.push(serialize.execute({}));
          parts.push(serialize.sync());
        }
        raw.messages.length = 0;
        const sentAt = performance.now();
        for (const r of batch) r.sentAt = sentAt;
        raw.send(Buffer.concat(parts));
        let seen = 0;
        while (seen < 5) {
          await raw.countOf('readyForQuery', seen + 1, 60_000);
          // the i-th ReadyForQuery acknowledges the i-th insert (errors come before it)
          const rfqs = raw.messages.filter((m) => m.name === 'readyForQuery').length;
          for (; seen < rfqs; seen++) batch[seen]!.ackAt = performance.now();
        }
        const errors = raw.messages.filter((m) => m.name === 'error');
        if (errors.length > 0) throw new Error(`pipelined insert failed: ${JSON.stringify(errors[0])}`);
      }
    } finally {
      raw.end();
    }
  }
}
