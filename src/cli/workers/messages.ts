/**
 * What a primary and its workers say to each other over the cluster IPC channel (`--workers`).
 * Questions carry an id and are answered once; everything else is a one-way notice.
 */
import type { Cell } from '../../proxy/console/index.js';
import type { MetricsJson } from '../run-node.js';
import type { NodeStatusJson } from '../status-table.js';

/** What a worker reports once its node runs: the primary prints and records it once for all. */
export interface WorkerReady {
  node: string;
  pid: number;
  connectionString: string;
  /** The database the node fronts, for the node state file. */
  upstreamUrl: string;
}

/** Questions the primary asks a worker. */
export type WorkerQuestion = { k: 'scrape' } | { k: 'status' } | { k: 'console'; text: string };
/** Questions a worker asks the primary. */
export type PrimaryQuestion = { k: 'everywhere'; text: string };

export interface WorkerAnswers {
  scrape: MetricsJson;
  status: NodeStatusJson;
  /** The statement's rows on that worker. */
  console: Cell[][];
}

export type ToWorker =
  | { t: 'stop' }
  | { t: 'reload' }
  | { t: 'cancel'; pid: number; secret: number }
  | { t: 'ask'; id: number; q: WorkerQuestion }
  | { t: 'answer'; id: number; ok: true; value: unknown }
  | { t: 'answer'; id: number; ok: false; error: string };

export type ToPrimary =
  | { t: 'ready'; ready: WorkerReady }
  | { t: 'failed'; message: string }
  | { t: 'cancel'; slot: number; pid: number; secret: number }
  | { t: 'ask'; id: number; q: PrimaryQuestion }
  | { t: 'answer'; id: number; ok: true; value: unknown }
  | { t: 'answer'; id: number; ok: false; error: string };

type Answer = Extract<ToWorker | ToPrimary, { t: 'answer' }>;

/** Questions in flight on one channel, each answered once or failed after a timeout. */
export class Questions {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  constructor(private readonly timeoutMs: number) {}

  /** Ask over `send`; the answer (or the far side's error) settles the promise. */
  ask<T>(send: (msg: { t: 'ask'; id: number; q: never }) => void, q: unknown, what: string): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${what}: no answer in ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      timer.unref();
      this.pending.set(id, { resolve: (v) => resolve(v as T), reject, timer });
      try {
        send({ t: 'ask', id, q: q as never });
      } catch (err) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  answered(msg: Answer): void {
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.ok) p.resolve(msg.value);
    else p.reject(new Error(msg.error));
  }

  /** The other side is gone: nothing pending will be answered. */
  failAll(why: string): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error(why));
      this.pending.delete(id);
    }
  }
}

/** Answer a question with what `f` gives (or its error), over `send`. */
export function answer(send: (msg: Answer) => void, id: number, f: () => Promise<unknown>): void {
  f().then(
    (value) => send({ t: 'answer', id, ok: true, value: value ?? null }),
    (err: unknown) => send({ t: 'answer', id, ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
}

/** Env var naming a forked worker's slot (read by start.ts; not a config key). */
export const WORKER_SLOT_ENV = 'QUIETCUT_WORKER_SLOT';
