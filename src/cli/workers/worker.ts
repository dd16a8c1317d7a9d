/**
 * A worker process of `quietcut start --workers N`: a full node (its own id, lease, clock offset,
 * windows) on the port the primary shares, taking orders from the primary over the IPC channel.
 */
import type { Config } from '../../config/schema.js';
import { createLogger, type Logger } from '../../util/log.js';
import { upstreamUrlOf } from '../announce.js';
import { runNode, type RunningNode, type WorkerLink } from '../run-node.js';
import { testWorkerOptions } from './test-options.js';
import type { Gathered } from '../console-host-rows.js';
import { answer, Questions, WORKER_SLOT_ENV, type ToPrimary, type ToWorker, type WorkerAnswers, type WorkerQuestion } from './messages.js';

/** How long a worker waits for the primary to relay a console statement to the others. */
const RELAY_TIMEOUT_MS = 15_000;

function send(msg: ToPrimary): void {
  if (process.connected) process.send?.(msg);
}

/** Tell the primary why this worker cannot start (it stops the others and says so), then exit. */
function failed(err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  if (process.connected) process.send?.({ t: 'failed', message } satisfies ToPrimary, () => process.exit(1));
  else process.exit(1);
}

/** The forked process: its slot from the primary, the configuration read as the primary read it. */
export async function startWorker(load: () => Config): Promise<void> {
  const slot = Number(process.env[WORKER_SLOT_ENV]);
  let config: Config;
  try {
    // The file may have changed since the primary read it (a restart after a crash): said, not thrown.
    config = load();
  } catch (err) {
    failed(err);
    return;
  }
  const log = createLogger({ level: config.log.level, ...(config.log.pretty === null ? {} : { pretty: config.log.pretty }) }).child({ worker: slot });
  await runWorker(slot, config, load, log);
}

async function runWorker(slot: number, config: Config, reloadConfig: () => Config, log: Logger): Promise<void> {
  const questions = new Questions(RELAY_TIMEOUT_MS);
  const link: WorkerLink = {
    slot,
    relayCancel: (to, pid, secret) => send({ t: 'cancel', slot: to, pid, secret }),
    everywhere: (text) => questions.ask<Gathered>(send, { k: 'everywhere', text }, 'relaying to the other workers'),
  };
  let node: RunningNode | null = null;
  let stopping = false;
  /** A stop asked for while the node starts: done once it runs (it stops what it started then). */
  let stopWanted: number | null = null;
  const stop = (code: number): void => {
    if (!node) {
      stopWanted ??= code;
      return;
    }
    if (stopping) return;
    stopping = true;
    questions.failAll('the worker is stopping');
    node.stop().then(
      () => process.exit(code),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // Ctrl-C reaches the whole process group: the primary orders the stop, so every worker stops once.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => stop(0));
  process.on('SIGHUP', () => undefined);
  // The primary is gone (killed): nothing would stop this worker any more.
  process.on('disconnect', () => {
    log.warn('the primary is gone: stopping');
    stop(0);
  });
  process.on('message', (msg: ToWorker) => {
    switch (msg.t) {
      case 'stop':
        stop(0);
        return;
      case 'reload':
        node?.reload().catch((err: unknown) => log.error({ err }, 'reload failed'));
        return;
      case 'cancel':
        node?.proxy.cancelLocal(msg.pid, msg.secret);
        return;
      case 'ask':
        answer(send, msg.id, () => answerQuestion(node, msg.q));
        return;
      case 'answer':
        questions.answered(msg);
        return;
    }
  });

  try {
    node = await runNode(config, log, { reloadConfig, worker: link, ...testWorkerOptions(slot) });
  } catch (err) {
    // runNode has stopped what it started; the primary stops the others and names the cause.
    failed(err);
    return;
  }
  if (stopWanted !== null) {
    stop(stopWanted);
    return;
  }
  send({ t: 'ready', ready: { node: node.node, pid: process.pid, connectionString: node.connectionString, upstreamUrl: upstreamUrlOf(node.admin) } });
}

async function answerQuestion(node: RunningNode | null, q: WorkerQuestion): Promise<WorkerAnswers[WorkerQuestion['k']]> {
  if (!node) throw new Error('this worker is still starting');
  switch (q.k) {
    case 'scrape':
      return node.scrapeJson();
    case 'status':
      return node.status();
    case 'console':
      return node.runConsole(q.text);
  }
}
