/**
 * The configuration a node runs with, and reloads of it (SIGHUP, the console's RELOAD): a new one
 * is read and checked whole (TLS files included) before anything changes; what needs a restart
 * keeps its running value and is counted; the rest applies through `apply`.
 */
import { diffConfig, type ConfigChange, type ReloadResult } from '../config/reload.js';
import type { Config } from '../config/schema.js';
import type { Metrics } from '../metrics/registry.js';
import type { Logger } from '../util/log.js';

export interface NodeReloadDeps {
  /** Where a reload reads the configuration from; throws when invalid. */
  source: (() => Config) | undefined;
  /** Changes that can be refused: applied before the new configuration is taken (throws to refuse). */
  check: (next: Config) => void;
  /** Everything else that follows the configuration, once it is taken. */
  apply: (next: Config, before: Config, changes: readonly ConfigChange[]) => void;
  metrics: Metrics;
  log: Logger;
}

export class NodeConfig {
  private config: Config;
  constructor(
    initial: Config,
    private readonly d: NodeReloadDeps,
  ) {
    this.config = initial;
  }

  /** The configuration in force: what reads it at use sees a reload at once. */
  get current(): Config {
    return this.config;
  }

  reload(): ReloadResult {
    const { metrics, log } = this.d;
    let next: Config;
    try {
      if (!this.d.source) throw new Error('this node was started without a configuration source to reload from');
      next = this.d.source();
      this.d.check(next);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      metrics.configReloads.labels('invalid').inc();
      log.error({ err: error }, 'configuration reload refused; the previous configuration stays in force');
      return { ok: false, error };
    }
    const before = this.config;
    const changes = diffConfig(before, next);
    // Options that need a restart keep their running values, so the node stays consistent.
    this.config = next;
    if (next.log.level !== before.log.level) log.level = next.log.level;
    this.d.apply(next, before, changes);
    const restart = changes.filter((c) => c.applies === 'restart');
    metrics.configReloads.labels('applied').inc();
    metrics.configRestartPending.set(restart.length);
    log.info({ live: changes.filter((c) => c.applies === 'live').map((c) => c.option), restart: restart.map((c) => c.option) }, restart.length > 0 ? 'configuration reloaded; some changes need a restart' : 'configuration reloaded');
    return { ok: true, changes };
  }
}
