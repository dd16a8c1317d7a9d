/**
 * A node's write history: pending per-minute counts flushed to quietcut.write_minutes, and the
 * table-stats sample (pg_stat_user_tables against what the proxy saw: bypass) with history pruning.
 */
import type pg from 'pg';
import type { CatalogRefresher } from '../catalog/index.js';
import type { Config } from '../config/schema.js';
import type { Metrics } from '../metrics/registry.js';
import type { WriteRecorder } from '../stats/recorder.js';
import { bypassHorizonMs, pruneHistory, TableStatsSampler } from '../stats/table-stats.js';
import type { Logger } from '../util/log.js';

export class NodeStats {
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly d: { stats: Config['stats']; pool: pg.Pool; recorder: WriteRecorder; catalog: CatalogRefresher; metrics: Metrics; node: string; log: Logger },
  ) {}

  /** Persist pending history now (timer, tests, shutdown); nothing when stats are off. */
  async flush(): Promise<void> {
    if (!this.d.stats.enabled) return;
    const c = await this.d.pool.connect();
    try {
      await this.d.recorder.flush(c);
    } finally {
      c.release();
    }
  }

  start(): void {
    const { stats, pool, recorder, catalog, log } = this.d;
    if (!stats.enabled) return;
    const sampler = new TableStatsSampler({ metrics: this.d.metrics, node: this.d.node, horizonMs: bypassHorizonMs(stats) });
    this.timers.push(setInterval(() => this.flush().catch(() => undefined), stats.flushIntervalMs));
    this.timers.push(
      setInterval(() => {
        void (async () => {
          const c = await pool.connect();
          try {
            await sampler.sample(c, catalog.current.leaves().map((l) => l.name), recorder.takeRowsSince());
            await pruneHistory(c, stats.retentionDays);
          } finally {
            c.release();
          }
        })().catch((err: unknown) => log.warn({ err }, 'table stats sample failed'));
      }, stats.tableStatsIntervalMs),
    );
    for (const t of this.timers) t.unref();
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
  }
}
