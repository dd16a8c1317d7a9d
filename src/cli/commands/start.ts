import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { createLogger } from '../../util/log.js';
import { runNode, type RunningNode } from '../run-node.js';
import { LiveTable, startDemo, type Demo } from '../demo/index.js';
import { configFileOf } from '../locate.js';
import { announce, recordNodeState, upstreamUrlOf } from '../announce.js';
import { runPrimary } from '../workers/primary.js';
import { startWorker } from '../workers/worker.js';

interface StartFlags {
  config?: string;
  listen?: string;
  upstream?: string;
  metrics?: string;
  demoLoad?: boolean;
  demoShards?: string;
  workers?: string;
}

/** `workers` as a number of processes: auto is one per CPU core. */
export function workerCount(w: Config['workers']): number {
  return w === 'auto' ? availableParallelism() : w;
}

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('run the proxy (with no upstream configured: a private PostgreSQL with demo partitioned tables and a living demo)')
    .option('-c, --config <file>', 'YAML config file (default: QUIETCUT_CONFIG); SIGHUP reloads it')
    .option('--listen <host:port>', 'where applications connect')
    .option('--upstream <url>', 'PostgreSQL to proxy to, postgres://host:port/dbname')
    .option('--metrics <host:port>', 'metrics HTTP endpoint')
    .option('--demo-load', 'demo mode: drive the demo tables with the built-in load generator (default)')
    .option('--no-demo-load', 'demo mode: no built-in load; windows and backups still run')
    .option('--workers <n|auto>', 'worker processes sharing the listen port, each a full node (auto: one per CPU core; default 1)')
    .option('--demo-shards <n>', 'demo mode: start n more private PostgreSQL servers as shards of public.readings (postgres_fdw), backed up as one cut')
    .action(async (flags: StartFlags) => {
      const overrides: Record<string, unknown> = {};
      if (flags.listen) overrides.listen = flags.listen;
      if (flags.upstream) overrides.upstream = { url: flags.upstream };
      if (flags.metrics) overrides.metrics = { listen: flags.metrics };
      if (flags.demoLoad !== undefined) overrides.demo = { load: flags.demoLoad };
      if (flags.workers !== undefined) overrides.workers = flags.workers === 'auto' ? 'auto' : Number(flags.workers);
      const file = configFileOf(flags.config);
      // Demo history must reach the database while someone watches, not every ten seconds.
      const load = (): Config => {
        const c = loadConfig({ file, overrides });
        return c.upstream.url === null ? { ...c, stats: { ...c.stats, flushIntervalMs: c.demo.statsFlushIntervalMs } } : c;
      };
      if (cluster.isWorker) {
        await startWorker(load);
        return;
      }
      const config = load();
      const demo = config.upstream.url === null;
      const workers = workerCount(config.workers);
      if (workers > 1) {
        // The private PostgreSQL, its load generator and live table belong to one process.
        if (demo) throw new Error(`'workers' (--workers) ${workers} needs an upstream: set upstream.url (--upstream); demo mode runs one node`);
        if (flags.demoShards) throw new Error("--demo-shards needs demo mode, and 'workers' (--workers) more than 1 needs an upstream");
        const log = createLogger({ level: config.log.level, ...(config.log.pretty === null ? {} : { pretty: config.log.pretty }) }).child({ role: 'primary' });
        await runPrimary({ workers, config, file, log });
        return;
      }
      // The live table needs the terminal to itself: log lines are routed through it.
      const table = demo && process.stdout.isTTY && config.log.pretty !== false ? new LiveTable(process.stdout) : null;
      const log = createLogger({
        level: config.log.level,
        ...(config.log.pretty === null ? {} : { pretty: config.log.pretty }),
        ...(table ? { destination: table.logStream } : {}),
      });
      // Under the live table the node speaks up only for warnings (pg_dump arguments and the like
      // would push the table off the screen), unless debug output was asked for.
      const quiet = table !== null && (config.log.level === 'info' || config.log.level === 'warn');
      if (quiet) console.log('no upstream configured: starting a private PostgreSQL with the demo tables…');
      // Signals are handled from here on: a Ctrl-C while the private PostgreSQL is still starting
      // must not kill the process and leave that server running without an owner.
      let node: RunningNode | null = null;
      let running: Demo | null = null;
      let stopping = false;
      const shutdown = (n: RunningNode): void => {
        (running?.stop() ?? Promise.resolve())
          .then(() => n.stop())
          .then(
            () => process.exit(0),
            (err: unknown) => {
              log.error({ err }, 'shutdown failed');
              process.exit(1);
            },
          );
      };
      const stop = (signal: string): void => {
        if (stopping) {
          // A second Ctrl-C: leave now; the private PostgreSQL is stopped by its exit hook.
          process.exit(130);
        }
        stopping = true;
        log.info({ signal }, node ? 'shutting down: no new connections, sessions may finish' : 'stopping as soon as start-up is done');
        if (node) shutdown(node);
      };
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => stop(signal));
      // SIGHUP (systemctl reload) reloads the configuration, as PgBouncer does; sessions stay.
      // Before the node runs there is nothing to reload into: it starts with the file as it is then.
      process.on('SIGHUP', () => {
        if (!node || stopping) return;
        node.reload().catch((err: unknown) => log.error({ err }, 'reload failed'));
      });

      try {
        node = await runNode(config, quiet ? log.child({}, { level: 'warn' }) : log, { ...(flags.demoShards ? { demoShards: Number(flags.demoShards) } : {}), reloadConfig: load });
      } catch (err) {
        // runNode has stopped whatever it started (the private PostgreSQL too): nothing is left to wait for.
        console.error(`quietcut: cannot start: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
      }
      if (stopping) {
        shutdown(node);
        return;
      }
      const serving = { connectionString: node.connectionString, upstreamUrl: upstreamUrlOf(node.admin), metricsPort: node.metricsPort };
      recordNodeState(serving, config, file, log);
      announce(serving, config);
      if (demo) {
        console.log(`demo: backups land in ${resolve(config.backup.dir)}`);
        if (node.metricsPort) console.log(`      quietcut status  prints this table from another terminal (npx quietcut inside the clone)\n`);
        running = startDemo({ node, config, log, table });
      }
    });
}
