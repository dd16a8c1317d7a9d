import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { createLogger } from '../../util/log.js';
import { runNode } from '../run-node.js';

interface StartFlags {
  config?: string;
  listen?: string;
  upstream?: string;
  metrics?: string;
}

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('run the proxy (with no upstream configured: a private PostgreSQL with a demo partitioned table)')
    .option('-c, --config <file>', 'YAML config file')
    .option('--listen <host:port>', 'where applications connect')
    .option('--upstream <url>', 'PostgreSQL to proxy to, postgres://host:port/dbname')
    .option('--metrics <host:port>', 'metrics HTTP endpoint')
    .action(async (flags: StartFlags) => {
      const overrides: Record<string, unknown> = {};
      if (flags.listen) overrides.listen = flags.listen;
      if (flags.upstream) overrides.upstream = { url: flags.upstream };
      if (flags.metrics) overrides.metrics = { listen: flags.metrics };
      const config = loadConfig({ file: flags.config, overrides });
      const log = createLogger({ level: config.log.level, ...(config.log.pretty === null ? {} : { pretty: config.log.pretty }) });
      const node = await runNode(config, log);
      console.log(`quietcut is listening. Point applications at:\n\n  ${node.connectionString}\n`);
      if (node.metricsPort) console.log(`metrics: http://${config.metrics.listen?.split(':')[0]}:${node.metricsPort}/metrics`);
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'shutting down: no new connections, sessions may finish');
        node.stop().then(
          () => process.exit(0),
          (err: unknown) => {
            log.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });
}
