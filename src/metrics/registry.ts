import { readFileSync } from 'node:fs';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Forecast } from '../forecast/types.js';

/**
 * Every metric quietcut exports, in one place: the README's metrics reference and the Grafana
 * dashboard test read this list, so names cannot drift.
 */
export class Metrics {
  // Workers (--workers) are summed into one /metrics (prom-client's AggregatorRegistry): counters
  // and per-process gauges add up; a gauge that states a fact every worker knows alike (a window's
  // state, a timestamp, a plan) carries `aggregator: 'max'` so that it is not multiplied.
  readonly registry = new Registry();
  private readonly partitionLabels = new Set<string>();

  private readonly histogramLabels = new Set<string>();

  constructor(
    private readonly maxPartitionLabels = 2000,
    /** Series budget of per-partition histograms: past this many partitions they share "_other". */
    private readonly maxHistogramPartitions = 100,
  ) {
    collectDefaultMetrics({ register: this.registry });
    this.buildInfo.labels(BUILD.version, process.version).set(1);
  }

  /**
   * The label of a partition in a histogram: histograms cost about 16 series per partition, so
   * only the first metrics.maxHistogramPartitions partitions get their own; the rest share "_other"
   * (their counters, which cost one series, stay per partition).
   */
  histogramPartition(name: string): string {
    if (this.histogramLabels.has(name)) return name;
    if (this.histogramLabels.size >= this.maxHistogramPartitions) return '_other';
    this.histogramLabels.add(name);
    return name;
  }

  /**
   * Labelled counters start at zero for every known partition: a series that appears only with
   * its first failure never makes increase() or an alert fire for that failure.
   */
  knowPartitions(partitions: readonly { name: string; root: string }[]): void {
    for (const { name, root } of partitions) {
      const p = this.partition(name);
      if (p === '_other') continue;
      this.writes.labels(root, p).inc(0);
      this.writeRows.labels(root, p).inc(0);
      this.heldWrites.labels(p).inc(0);
      this.heldSecondsTotal.labels(p).inc(0);
      this.rejectedWrites.labels(p).inc(0);
      this.backupFailures.labels(p).inc(0);
      for (const outcome of ['dumped', 'aborted'] as const) this.windows.labels(p, outcome).inc(0);
      for (const reason of ['budget', 'export', 'dump'] as const) this.windowsAborted.labels(p, reason).inc(0);
    }
  }

  /** Bounded label cardinality: past the cap, partitions share the label "_other". */
  partition(name: string): string {
    if (this.partitionLabels.has(name)) return name;
    if (this.partitionLabels.size >= this.maxPartitionLabels) return '_other';
    this.partitionLabels.add(name);
    return name;
  }

  readonly buildInfo = new Gauge({ name: 'quietcut_build_info', aggregator: 'max', help: 'Always 1; labels name the quietcut version and the Node.js version running it', labelNames: ['version', 'node'] as const, registers: [this.registry] });
  readonly configReloads = new Counter({ name: 'quietcut_config_reloads_total', help: 'Configuration reloads (SIGHUP, console RELOAD) by result: applied, or invalid (the old configuration stays)', labelNames: ['result'] as const, registers: [this.registry] });
  readonly configRestartPending = new Gauge({ name: 'quietcut_config_restart_pending', aggregator: 'max', help: 'Options changed by a reload that take effect only after a restart', registers: [this.registry] });

  // --- proxy
  readonly clientConnections = new Gauge({ name: 'quietcut_client_connections', help: 'Client connections open now', registers: [this.registry] });
  readonly serverConnections = new Gauge({ name: 'quietcut_server_connections', help: 'Server (upstream) connections open now', registers: [this.registry] });
  readonly bytes = new Counter({ name: 'quietcut_bytes_total', help: 'Bytes forwarded, by direction (client_to_server, server_to_client)', labelNames: ['direction'] as const, registers: [this.registry] });
  readonly clientErrors = new Counter({ name: 'quietcut_client_errors_total', help: 'Connections refused or closed by the proxy, by SQLSTATE', labelNames: ['sqlstate'] as const, registers: [this.registry] });
  readonly cancelRequests = new Counter({
    name: 'quietcut_cancel_requests_total',
    help: 'CancelRequests accepted, by outcome: forwarded (to the server), held (a held request cancelled by quietcut), relayed (to the worker the key names, which counts it again), ignored (a key of no session)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  // --- sql / stats
  readonly unclassifiedStatements = new Counter({ name: 'quietcut_unclassified_statements_total', help: 'Statements the proxy could not classify (unparsable SQL, unknown targets)', registers: [this.registry] });
  readonly gateFailClosed = new Counter({
    name: 'quietcut_gate_fail_closed_total',
    help: 'Requests held or rejected by a window because quietcut could not prove them outside it, by reason (non_mvcc: TRUNCATE, rewrite or DDL waiting for the dumps\' locks; the others: write set unknown)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  /** Hot-path counts kept as plain numbers are moved into their metrics when these are read. */
  private readonly collectHooks: Array<() => void> = [];
  beforeCollect(hook: () => void): void {
    this.collectHooks.push(hook);
  }
  private runCollectHooks(): void {
    for (const h of this.collectHooks) h();
  }

  readonly writes = new Counter({ name: 'quietcut_writes_total', help: 'Write statements forwarded, per partition', labelNames: ['table', 'partition'] as const, registers: [this.registry], collect: () => this.runCollectHooks() });
  readonly writeRows = new Counter({ name: 'quietcut_write_rows_total', help: 'Rows written (from CommandComplete), per partition', labelNames: ['table', 'partition'] as const, registers: [this.registry], collect: () => this.runCollectHooks() });
  readonly bypassRows = new Gauge({ name: 'quietcut_bypass_rows', aggregator: 'max', help: 'Rows pg_stat_user_tables shows changed that no quietcut node wrote, found at the last sample: a row counts only when no proxied row (this node\'s, or another node\'s from its history flush) covered it within 2 x stats.flushIntervalMs + 2 x stats.tableStatsIntervalMs + 5 s, so late statistics never show as bypass', labelNames: ['partition'] as const, registers: [this.registry] });

  // --- windows
  readonly windowState = new Gauge({ name: 'quietcut_window_state', aggregator: 'max', help: 'Window state per partition: 0 idle, 1 armed, 2 holding, 3 drained, 4 pinned, 5 released, 6 dumped, 7 aborted', labelNames: ['partition'] as const, registers: [this.registry] });
  readonly heldWrites = new Counter({ name: 'quietcut_held_writes_total', help: 'Write requests held by a window', labelNames: ['partition'] as const, registers: [this.registry] });
  readonly rejectedWrites = new Counter({ name: 'quietcut_rejected_writes_total', help: 'Write requests rejected (reject mode or queue overflow)', labelNames: ['partition'] as const, registers: [this.registry] });
  readonly heldSecondsTotal = new Counter({ name: 'quietcut_held_seconds_total', help: 'Time held requests waited, summed (a counter: its rate is the number of requests waiting on average)', labelNames: ['partition'] as const, registers: [this.registry] });
  readonly windows = new Counter({ name: 'quietcut_windows_total', help: 'Windows that ended, by outcome (dumped, aborted)', labelNames: ['partition', 'outcome'] as const, registers: [this.registry] });
  readonly windowLastStart = new Gauge({ name: 'quietcut_window_last_start_timestamp_seconds', aggregator: 'max', help: 'Unix time the last window on the partition began holding', labelNames: ['partition'] as const, registers: [this.registry] });
  readonly windowLastRelease = new Gauge({ name: 'quietcut_window_last_release_timestamp_seconds', aggregator: 'max', help: 'Unix time the last window on the partition released its writes', labelNames: ['partition'] as const, registers: [this.registry] });
  readonly windowLastEnd = new Gauge({ name: 'quietcut_window_last_end_timestamp_seconds', aggregator: 'max', help: 'Unix time the last window on the partition ended (dumped or aborted)', labelNames: ['partition'] as const, registers: [this.registry] });
  readonly holdSeconds = new Histogram({ name: 'quietcut_hold_seconds', help: 'Added latency per held request (partitions past metrics.maxHistogramPartitions share "_other")', labelNames: ['partition'] as const, buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [this.registry] });
  readonly holdQueueDepth = new Gauge({ name: 'quietcut_hold_queue_depth', help: 'Requests waiting in the hold queue now', labelNames: ['partition'] as const, registers: [this.registry] });
  readonly windowSeconds = new Histogram({ name: 'quietcut_window_seconds', help: 'Length of windows (hold start to release; partitions past metrics.maxHistogramPartitions share "_other")', labelNames: ['partition'] as const, buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300], registers: [this.registry] });
  readonly windowsAborted = new Counter({ name: 'quietcut_windows_aborted_total', help: 'Windows aborted (budget exceeded, export or dump failure)', labelNames: ['partition', 'reason'] as const, registers: [this.registry] });

  // --- membership (several nodes)
  readonly nodeClockOffset = new Gauge({ name: 'quietcut_node_clock_offset_seconds', aggregator: 'max', help: "This node's clock offset to the database server's clock (server minus node), from the smallest-round-trip sample; one series per node (a --workers endpoint serves several)", labelNames: ['node'] as const, registers: [this.registry] });
  readonly nodeClockUncertainty = new Gauge({ name: 'quietcut_node_clock_uncertainty_seconds', aggregator: 'max', help: 'Uncertainty of the clock offset: half the round trip of its sample', labelNames: ['node'] as const, registers: [this.registry] });
  readonly nodeMinClientRtt = new Gauge({ name: 'quietcut_node_min_client_rtt_seconds', aggregator: 'min', help: 'Smallest client round trip (acknowledgement to the same session\'s next request) seen lately on this node', registers: [this.registry] });
  readonly outOfContact = new Gauge({ name: 'quietcut_node_out_of_contact', aggregator: 'max', help: '1 while this node cannot trust its lease and so holds (after windows.maxHoldMs: refuses) writes to every managed partition no window holds, until it is back in contact', registers: [this.registry] });
  readonly liveNodes = new Gauge({ name: 'quietcut_live_nodes', aggregator: 'max', help: 'Nodes holding a valid lease, as this node last saw them', registers: [this.registry] });

  // --- backup
  readonly backupDuration = new Histogram({ name: 'quietcut_backup_duration_seconds', help: 'pg_dump duration per partition (partitions past metrics.maxHistogramPartitions share "_other")', labelNames: ['partition'] as const, buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600], registers: [this.registry] });
  readonly backupBytes = new Gauge({ name: 'quietcut_backup_bytes', aggregator: 'max', help: 'Size of the last dump file per partition', labelNames: ['partition'] as const, registers: [this.registry] });
  readonly backupLastSuccess = new Gauge({ name: 'quietcut_backup_last_success_timestamp_seconds', aggregator: 'max', help: 'Unix time of the last good backup per partition', labelNames: ['partition'] as const, registers: [this.registry] });
  readonly backupFailures = new Counter({ name: 'quietcut_backup_failures_total', help: 'Failed or aborted backups per partition', labelNames: ['partition'] as const, registers: [this.registry] });

  // --- planner
  readonly plannedHeldWrites = new Gauge({ name: 'quietcut_planned_held_writes', aggregator: 'max', help: 'Writes the current plan expects to hold per partition', labelNames: ['partition'] as const, registers: [this.registry] });
  readonly planInfeasible = new Gauge({ name: 'quietcut_plan_infeasible_partitions', aggregator: 'max', help: 'Partitions the current plan cannot fit in their budget', registers: [this.registry] });
  /** Forecast curves of the current plan, by partition: the gauge below reads them when scraped. */
  private forecasts = new Map<string, Forecast>();
  setForecasts(forecasts: ReadonlyMap<string, Forecast>): void {
    this.forecasts = new Map(forecasts);
  }

  /** The current plan's forecast for a partition now, writes per second; null outside its curve. */
  forecastNow(partition: string, now = Date.now()): number | null {
    const f = this.forecasts.get(partition);
    if (!f) return null;
    const i = Math.floor((now - f.startMs) / f.stepMs);
    const v = i >= 0 && i < f.mean.length ? f.mean[i] : undefined;
    return v === undefined ? null : v / (f.stepMs / 1000);
  }

  readonly forecastWritesPerSecond = (() => {
    const metrics = this; // eslint-disable-line @typescript-eslint/no-this-alias -- collect() runs with the gauge as `this`
    return new Gauge({
      name: 'quietcut_forecast_writes_per_second',
      aggregator: 'max',
      help: 'Forecast write rate per partition now, from the current plan (to compare with the rate of quietcut_writes_total)',
      labelNames: ['partition'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        const now = Date.now();
        for (const p of metrics.forecasts.keys()) {
          const v = metrics.forecastNow(p, now);
          if (v !== null) this.labels(metrics.partition(p)).set(v);
        }
      },
    });
  })();
  readonly planLiveAdjustments = new Counter({
    name: 'quietcut_plan_live_adjustments_total',
    help: 'Planned windows the live check before them moved to a later slot or skipped (the live write rate far above the forecast), or started early (action started_early: the cost at the live rate at an early check point no more than the forecast cost of the best start left)',
    labelNames: ['action'] as const,
    registers: [this.registry],
  });
  readonly forecastErrorRatio = new Gauge({ name: 'quietcut_forecast_error_ratio', aggregator: 'max', help: 'Actual over predicted writes in the last window per partition', labelNames: ['partition'] as const, registers: [this.registry] });
}

/** The package's version, read once (dist/metrics → ../../package.json; src/metrics the same). */
export const BUILD: { version: string } = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return { version: pkg.version ?? 'unknown' };
  } catch {
    return { version: 'unknown' };
  }
})();

export const WINDOW_STATE_VALUE = {
  idle: 0,
  armed: 1,
  holding: 2,
  drained: 3,
  pinned: 4,
  released: 5,
  dumped: 6,
  aborted: 7,
} as const;
