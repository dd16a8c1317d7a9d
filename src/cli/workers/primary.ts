/**
 * The primary of `quietcut start --workers N`: it proxies nothing. It forks N workers onto the
 * shared listen port (node:cluster), serves the one metrics endpoint (their registries summed),
 * relays what must reach another worker (cancel requests, console commands), restarts a worker that
 * dies (a bounded number of times), and stops them all on SIGTERM/SIGINT.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../../config/schema.js';
import { startMetricsHttp } from '../../metrics/http.js';
import { parseHostPort } from '../../proxy/upstream.js';
import type { Logger } from '../../util/log.js';
import { announce, recordNodeState } from '../announce.js';
import { bindError } from '../run-node.js';
import { mergeStatus, sumMetrics } from './aggregate.js';
import type { Gathered } from '../console-host-rows.js';
import { answer, Questions, WORKER_SLOT_ENV, type PrimaryQuestion, type ToPrimary, type ToWorker, type WorkerAnswers, type WorkerQuestion, type WorkerReady } from './messages.js';

/** A worker that dies this many times within CRASH_WINDOW_MS is not restarted again: everything stops. */
export const MAX_RAPID_CRASHES = 5;
const CRASH_WINDOW_MS = 60_000;
/** How long a worker has to answer a scrape, a status or a relayed console statement. */
const ASK_TIMEOUT_MS = 10_000;

interface Slot {
  slot: number;
  worker: Worker;
  ready: WorkerReady | null;
  /** Why its start failed, when it said so before exiting. */
  failed: string | null;
  /** What the primary asked it and waits for: failed at once when it dies. */
  questions: Questions;
}

export interface PrimaryOptions {
  workers: number;
  config: Config;
  file: string | undefined;
  log: Logger;
}

export async function runPrimary(o: PrimaryOptions): Promise<void> {
  const { config, log } = o;
  const slots = new Map<number, Slot>();
  const crashes: number[] = [];
  let starting = true;
  let stopping = false;
  let exitCode = 0;
  let closeMetrics: (() => Promise<void>) | null = null;

  const sendTo = (s: Slot, msg: ToWorker): void => {
    if (s.worker.isConnected()) s.worker.send(msg);
  };
  const ask = <K extends WorkerQuestion['k']>(s: Slot, q: Extract<WorkerQuestion, { k: K }>): Promise<WorkerAnswers[K]> =>
    s.questions.ask<WorkerAnswers[K]>((m) => sendTo(s, m), q, `worker ${s.slot}`);
  const ready = (): Slot[] => [...slots.values()].filter((s) => s.ready !== null).sort((a, b) => a.slot - b.slot);

  const stopAll = (code: number, why: string): void => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    log.info({ reason: why }, 'stopping every worker');
    for (const s of slots.values()) s.questions.failAll('stopping');
    if (slots.size === 0) void finish();
    for (const s of slots.values()) sendTo(s, { t: 'stop' });
    // A worker that does not end within its shutdown timeout (and then some) is killed.
    setTimeout(() => {
      for (const s of slots.values()) s.worker.process.kill('SIGKILL');
    }, config.shutdownTimeoutMs + 10_000).unref();
  };
  const finish = async (): Promise<void> => {
    await closeMetrics?.().catch(() => undefined);
    process.exit(exitCode);
  };

  const onQuestion = (from: Slot, id: number, q: PrimaryQuestion): void => {
    answer(
      (m) => sendTo(from, m),
      id,
      async () => {
        const others = ready().filter((s) => s !== from);
        const outcomes = await Promise.allSettled(others.map((s) => ask(s, { k: 'console', text: q.text })));
        const gathered: Gathered = {
          rows: outcomes.flatMap((r) => (r.status === 'fulfilled' ? r.value : [])),
          failures: outcomes.flatMap((r, i) => (r.status === 'rejected' ? [`${others[i]!.ready?.node ?? `worker ${others[i]!.slot}`}: ${(r.reason as Error).message}`] : [])),
        };
        return gathered;
      },
    );
  };

  let allReady: () => void = () => undefined;
  let startFailed: (message: string) => void = () => undefined;
  const started = new Promise<void>((resolve, reject) => {
    allReady = resolve;
    startFailed = (m) => reject(new Error(m));
  });

  const fork = (slot: number): Slot => {
    const worker = cluster.fork({ [WORKER_SLOT_ENV]: String(slot) });
    const s: Slot = { slot, worker, ready: null, failed: null, questions: new Questions(ASK_TIMEOUT_MS) };
    slots.set(slot, s);
    worker.on('message', (msg: ToPrimary) => {
      switch (msg.t) {
        case 'ready':
          s.ready = msg.ready;
          log.info({ worker: slot, node: msg.ready.node, pid: msg.ready.pid }, 'worker ready');
          if (starting && ready().length === o.workers) allReady();
          return;
        case 'failed':
          s.failed = msg.message;
          return;
        case 'cancel': {
          // A key naming no worker is forged or stale: ignored, as PostgreSQL ignores unknown keys.
          const to = slots.get(msg.slot);
          if (to?.ready) sendTo(to, { t: 'cancel', pid: msg.pid, secret: msg.secret });
          else log.debug({ worker: msg.slot }, 'cancel request for no running worker ignored');
          return;
        }
        case 'ask':
          onQuestion(s, msg.id, msg.q);
          return;
        case 'answer':
          s.questions.answered(msg);
          return;
      }
    });
    worker.on('exit', (code, signal) => exited(s, code, signal));
    return s;
  };

  const exited = (s: Slot, code: number | null, signal: string | null): void => {
    if (slots.get(s.slot) === s) slots.delete(s.slot);
    s.questions.failAll(`worker ${s.slot} exited`);
    if (stopping) {
      if (slots.size === 0) void finish();
      return;
    }
    if (starting) {
      startFailed(s.failed ?? `worker ${s.slot} exited during start-up (${signal ?? `code ${code}`})`);
      return;
    }
    const now = Date.now();
    crashes.push(now);
    while (crashes.length > 0 && crashes[0]! < now - CRASH_WINDOW_MS) crashes.shift();
    log.error({ worker: s.slot, node: s.ready?.node, code, signal, reason: s.failed }, 'worker died');
    if (crashes.length >= MAX_RAPID_CRASHES) {
      log.error({ crashes: crashes.length, withinMs: CRASH_WINDOW_MS }, 'workers keep dying: giving up');
      stopAll(1, 'too many worker crashes');
      return;
    }
    log.info({ worker: s.slot }, 'restarting worker');
    fork(s.slot);
  };

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) {
        if (signal === 'SIGINT') process.exit(130);
        return;
      }
      stopAll(0, signal);
    });
  }
  // SIGHUP (systemctl reload): every worker reads the configuration again, as one node does.
  process.on('SIGHUP', () => {
    if (stopping) return;
    for (const s of ready()) sendTo(s, { t: 'reload' });
  });

  // The one metrics endpoint, bound first: a port in use fails the start before any worker runs.
  let metricsPort: number | null = null;
  try {
    if (config.metrics.listen) {
      const m = parseHostPort(config.metrics.listen);
      const http = await startMetricsHttp({
        host: m.host,
        port: m.port,
        scrape: async () => sumMetrics(await Promise.all(ready().map((s) => ask(s, { k: 'scrape' })))),
        // Serving while some worker serves (one restarting leaves the others to take connections).
        healthy: () => ready().length > 0,
        status: async () => mergeStatus(await Promise.all(ready().map(async (s) => ({ slot: s.slot, pid: s.ready!.pid, status: await ask(s, { k: 'status' }) })))),
      }).catch((err: unknown) => {
        throw bindError(err, "'metrics.listen' (--metrics)", m);
      });
      metricsPort = http.port;
      closeMetrics = http.close;
    }
    for (let slot = 0; slot < o.workers; slot++) fork(slot);
    await started;
  } catch (err) {
    console.error(`quietcut: cannot start: ${err instanceof Error ? err.message : String(err)}`);
    stopAll(1, 'start-up failed');
    return;
  }
  starting = false;
  const first = ready()[0]!.ready!;
  const serving = { connectionString: first.connectionString, upstreamUrl: first.upstreamUrl, metricsPort };
  recordNodeState(serving, config, o.file, log);
  announce(serving, config);
  console.log(`workers: ${o.workers} (${ready().map((s) => s.ready!.node).join(', ')})`);
}
