/**
 * Windows every live node enforces, through the database: the runner (the node that claimed the
 * backup) writes one row per window in quietcut.windows, every other live node holds it and
 * acknowledges HOLDING+DRAINED in quietcut.window_acks, the runner cuts only when every live node
 * has, and the end (released or aborted) goes back through the row. NOTIFY prompts; polling makes
 * sure (window-bus.ts).
 */
import type pg from 'pg';
import { silentLogger, type Logger } from '../util/log.js';
import type { SharedWindow, WindowCoordination } from '../windows/coordination.js';
import type { ReleaseRule, WindowMode } from '../windows/window.js';
import type { Membership } from './membership.js';
import { WINDOW_CHANNEL, type WindowBus } from './window-bus.js';

type Q = Pick<pg.ClientBase, 'query'>;

export type SharedWindowState = 'open' | 'cut' | 'released' | 'aborted';
export type AckState = 'drained' | 'released' | 'aborted';

export interface WindowRecord extends SharedWindow {
  runner: string;
  state: SharedWindowState;
  reason: string | null;
  /** Server clock, ms. */
  createdAtMs: number;
}

/** Timers fire late on a loaded machine; the runner keeps this much of its budget in hand. */
export const RUNNER_GUARD_MS = 100;

/**
 * The runner's own budget. Every node releases by its own reckoning of the window's deadline
 * (created_at + budget on the server's clock, converted with its measured offset and so known to
 * within its uncertainty); the runner must have released before the earliest of them, or one node
 * could admit writes while the runner still counts the window as a cut.
 */
export function runnerBudgetMs(o: { budgetMs: number; elapsedMs: number; ownUncertaintyMs: number; othersUncertaintyMs: readonly number[] }): number {
  const worst = o.othersUncertaintyMs.reduce((a, b) => Math.max(a, b), 0);
  return o.budgetMs - Math.max(0, o.elapsedMs) - worst - o.ownUncertaintyMs - RUNNER_GUARD_MS;
}

export async function openWindowRecord(q: Q, w: SharedWindow, runner: string): Promise<{ createdAtMs: number; serverNowMs: number }> {
  const { rows } = await q.query<{ created: number; now: number }>(
    `WITH ins AS (
       INSERT INTO quietcut.windows (window_key, run_id, grp, partitions, runner, mode, release, budget_ms)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       RETURNING created_at)
     SELECT extract(epoch FROM created_at)::float8 * 1000 AS created, extract(epoch FROM clock_timestamp())::float8 * 1000 AS now,
            pg_notify($9, 'open:' || $1)
       FROM ins`,
    [w.key, w.runId, w.group, [...w.partitions], runner, w.mode, w.release, w.budgetMs, WINDOW_CHANNEL],
  );
  const r = rows[0]!;
  return { createdAtMs: r.created, serverNowMs: r.now };
}

export async function ackWindow(q: Q, key: string, node: string, state: AckState): Promise<void> {
  await q.query(
    `WITH a AS (
       INSERT INTO quietcut.window_acks (window_key, node, state) VALUES ($1, $2, $3)
       ON CONFLICT (window_key, node) DO UPDATE SET state = EXCLUDED.state, at = now()
       RETURNING 1)
     SELECT pg_notify($4, 'ack:' || $1) FROM a`,
    [key, node, state, WINDOW_CHANNEL],
  );
}

/**
 * End a window that is still open. Returns its state afterwards: `outcome` when this call (or an
 * earlier same one) ended it, or what another node ended it with first.
 */
export async function endWindowRecord(q: Q, key: string, outcome: 'released' | 'aborted', reason: string | null): Promise<SharedWindowState | null> {
  const { rows } = await q.query<{ state: SharedWindowState | null }>(
    `WITH u AS (
       UPDATE quietcut.windows SET state = $2, reason = coalesce(reason, $3), ended_at = now()
        WHERE window_key = $1 AND state IN ('open', 'cut')
        RETURNING state)
     SELECT coalesce((SELECT state FROM u), (SELECT state FROM quietcut.windows WHERE window_key = $1)) AS state, pg_notify($4, 'end:' || $1)`,
    [key, outcome, reason, WINDOW_CHANNEL],
  );
  return rows[0]?.state ?? null;
}

export async function windowState(q: Q, key: string): Promise<{ state: SharedWindowState; reason: string | null } | null> {
  const { rows } = await q.query<{ state: SharedWindowState; reason: string | null }>('SELECT state, reason FROM quietcut.windows WHERE window_key = $1', [key]);
  return rows[0] ?? null;
}

/** Windows not ended, of a live runner, whose budget has not run out on the server's clock; and that clock now. */
export async function openWindowRecords(q: Q): Promise<{ windows: WindowRecord[]; serverNowMs: number }> {
  const { rows } = await q.query<{
    key: string;
    run_id: string;
    grp: string;
    partitions: string[];
    runner: string;
    mode: WindowMode;
    release: ReleaseRule;
    budget_ms: number;
    state: SharedWindowState;
    reason: string | null;
    created: number;
    now: number;
  }>(
    `SELECT window_key AS key, run_id, grp, partitions, runner, mode, release, budget_ms, state, reason,
            extract(epoch FROM created_at)::float8 * 1000 AS created, extract(epoch FROM clock_timestamp())::float8 * 1000 AS now
       FROM quietcut.windows
      WHERE state IN ('open', 'cut') AND created_at + budget_ms * interval '1 millisecond' > clock_timestamp()
        -- a window whose runner is gone can never be cut: nothing to hold for (it is reaped)
        AND EXISTS (SELECT 1 FROM quietcut.nodes n WHERE n.node = runner AND n.lease_expires_at > clock_timestamp())
      ORDER BY created_at`,
  );
  const serverNowMs = rows[0]?.now ?? Date.now();
  return {
    serverNowMs,
    windows: rows.map((r) => ({
      key: r.key,
      runId: r.run_id,
      group: r.grp,
      partitions: r.partitions,
      runner: r.runner,
      mode: r.mode,
      release: r.release,
      budgetMs: r.budget_ms,
      state: r.state,
      reason: r.reason,
      createdAtMs: r.created,
    })),
  };
}

/** Live nodes other than the runner that have not acknowledged DRAINED, and nodes that aborted. */
export async function pendingAcks(q: Q, key: string, runner: string): Promise<{ waitingFor: string[]; aborted: string[] }> {
  const { rows } = await q.query<{ node: string; state: string | null; live: boolean }>(
    `SELECT n.node, a.state, n.lease_expires_at > clock_timestamp() AS live
       FROM quietcut.nodes n LEFT JOIN quietcut.window_acks a ON a.window_key = $1 AND a.node = n.node
      WHERE n.node <> $2 AND (n.lease_expires_at > clock_timestamp() OR a.state = 'aborted')`,
    [key, runner],
  );
  return {
    waitingFor: rows.filter((r) => r.live && r.state !== 'drained' && r.state !== 'aborted').map((r) => r.node),
    aborted: rows.filter((r) => r.state === 'aborted').map((r) => r.node),
  };
}

/**
 * Windows whose runner is gone (lease expired: it can no longer cut or end them) are aborted, and runs
 * of a gone node with an aborted window with them: a run whose runner died mid-window never passes
 * for good and does not stay 'running'. Any node may do this.
 */
export async function reapAbandonedWindows(q: Q): Promise<string[]> {
  const { rows } = await q.query<{ run_id: string }>(
    `WITH dead AS (
       UPDATE quietcut.windows w SET state = 'aborted', ended_at = now(), reason = coalesce(reason, 'runner ' || runner || ' was lost before the window ended')
        WHERE state IN ('open', 'cut')
          AND NOT EXISTS (SELECT 1 FROM quietcut.nodes n WHERE n.node = w.runner AND n.lease_expires_at > clock_timestamp())
        RETURNING run_id),
     runs AS (
       UPDATE quietcut.runs r SET status = 'aborted', finished_at = now(),
              detail = coalesce(detail, '{}'::jsonb) || jsonb_build_object('reason', 'its node was lost mid-window')
        WHERE r.status = 'running'
          AND (r.run_id IN (SELECT run_id FROM dead) OR EXISTS (SELECT 1 FROM quietcut.windows w WHERE w.run_id = r.run_id AND w.state = 'aborted'))
          AND NOT EXISTS (SELECT 1 FROM quietcut.nodes n WHERE n.node = r.node AND n.lease_expires_at > clock_timestamp())
        RETURNING run_id)
     SELECT run_id FROM runs`,
  );
  return rows.map((r) => r.run_id);
}

export interface CoordinationDeps {
  pool: pg.Pool;
  bus: WindowBus;
  node: string;
  membership: Membership;
  log?: Logger;
  /** How often acks are re-read in case a notification was missed. Default 50 ms. */
  pollMs?: number;
}

/** The runner's side of a shared window. */
export class NodeCoordination implements WindowCoordination {
  private readonly log: Logger;

  constructor(private readonly deps: CoordinationDeps) {
    this.log = deps.log ?? silentLogger;
  }

  async open(w: SharedWindow): Promise<number> {
    const { createdAtMs, serverNowMs } = await openWindowRecord(this.deps.pool, w, this.deps.node);
    const others = this.deps.membership.live.filter((n) => n.node !== this.deps.node);
    return runnerBudgetMs({
      budgetMs: w.budgetMs,
      elapsedMs: serverNowMs - createdAtMs,
      ownUncertaintyMs: this.deps.membership.offset?.uncertaintyMs ?? 0,
      othersUncertaintyMs: others.map((n) => n.uncertaintyMs ?? 0),
    });
  }

  async othersDrained(key: string, signal: AbortSignal): Promise<void> {
    let waitingFor: string[] = [];
    const onAbort = (): void => {
      if (waitingFor.length > 0) this.log.warn({ key, waitingFor }, 'live nodes did not acknowledge the window in time');
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        if (signal.aborted) throw signal.reason as Error;
        const p = await pendingAcks(this.deps.pool, key, this.deps.node);
        if (p.aborted.length > 0) throw new Error(`node ${p.aborted.join(', ')} aborted the window`);
        waitingFor = p.waitingFor;
        if (waitingFor.length === 0) return;
        await this.wake(key, signal);
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async end(key: string, outcome: 'released' | 'aborted', reason: string | null): Promise<boolean> {
    const state = await endWindowRecord(this.deps.pool, key, outcome, reason);
    return state === outcome;
  }

  /** Until an ack for this window is announced, the poll interval passes, or the window aborts. */
  private wake(key: string, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        off();
        signal.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, this.deps.pollMs ?? 50);
      const off = this.deps.bus.on((event, k) => {
        if (event === 'ack' && k === key) done();
      });
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
