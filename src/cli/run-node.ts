import type { LocalCluster } from '../localdb/cluster.js';
import { resolveUpstream } from './node-upstream.js';
import type { Config } from '../config/schema.js';
import { BUILD, Metrics } from '../metrics/registry.js';
import { startMetricsHttp } from '../metrics/http.js';
import { ProxyServer } from '../proxy/server.js';
import { scrapeHook } from './scrape-hook.js';
import { parseHostPort } from '../proxy/upstream.js';
import type { Logger } from '../util/log.js';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type pg from 'pg';
import { CatalogRefresher, loadCatalog, type Catalog } from '../catalog/index.js';
import { initSqlParser, SqlClassifier } from '../sql/index.js';
import { migrate } from '../store/migrate.js';
import { WriteRecorder } from '../stats/recorder.js';
import { NodeStats } from './node-stats.js';
import { NullInspector } from '../proxy/inspector.js';
import { WriteInspector, type InspectorShared } from '../proxy/write-inspector.js';
import { adminPool, adminTarget, type AdminTarget } from './admin-db.js';
import { connectWhenUp, resolveTlsWhenUp } from './wait-for-db.js';
import { loadUpstreamTls } from '../util/pg-tls.js';
import { WindowGate } from '../windows/gate.js';
import type { BackupRunResult } from '../coordinator/backup-run.js';
import { NodeBackups, type BackupOptions } from './node-backups.js';
import { BackupRequests } from '../coordinator/requests.js';
import type { PgTarget } from '../backup/index.js';
import { PlanScheduler } from '../coordinator/scheduler.js';
import { nodeClock } from '../coordinator/clock.js';
import { WindowFollower } from '../coordinator/follower.js';
import { Membership } from '../coordinator/membership.js';
import { ContactFence, watchContact } from '../coordinator/contact-fence.js';
import { NodeCoordination } from '../coordinator/shared-windows.js';
import { WindowBus } from '../coordinator/window-bus.js';
import { PartitionActivity, type PartitionStatus } from './node-status.js';
import type { ReloadResult } from '../config/reload.js';
import { NodeConfig } from './node-reload.js';
import { ConsoleServer, type Cell } from '../proxy/console/index.js';
import type { Gathered } from './console-host-rows.js';
import { Pauses } from '../windows/pause.js';
import { runRelayedConsole } from './console-commands.js';
import { startConsole } from './node-console.js';
import type { NodeStatusJson } from './status-table.js';

/** A registry's content as prom-client's getMetricsAsJSON gives it (what AggregatorRegistry sums). */
export type MetricsJson = Awaited<ReturnType<Metrics['registry']['getMetricsAsJSON']>>;

/** One running quietcut node: the proxy, its metrics endpoint, and (demo mode) a private PostgreSQL. */
export interface RunningNode {
  proxy: ProxyServer;
  /** The configuration in force now (a reload replaces it). */
  readonly config: Config;
  node: string;
  admin: AdminTarget;
  pool: pg.Pool;
  catalog: CatalogRefresher;
  recorder: WriteRecorder;
  classifier: SqlClassifier;
  /** Persist pending history now (tests, shutdown). */
  flushStats(): Promise<void>;
  gate: WindowGate;
  /** Open windows and back up these partitions now (on this node). */
  backup(partitions: readonly string[], opts?: BackupOptions): Promise<BackupRunResult>;
  metrics: Metrics;
  /** Planned backups: planning ticks, stored plans armed as timers (coordinator/scheduler.ts); replaced when a reload changes the schedule. */
  readonly scheduler: PlanScheduler;
  /**
   * Read the configuration again (SIGHUP, the console's RELOAD) and apply what can change while
   * sessions run; an invalid one is refused whole and the one in force stays.
   */
  reload(): Promise<ReloadResult>;
  /** Operator pauses (the console's PAUSE/RESUME). */
  pauses: Pauses;
  console: ConsoleServer;
  /** This node's lease, clock offset and view of the live nodes (coordinator/membership.ts). */
  membership: Membership;
  /** Windows other nodes run, held here too (coordinator/follower.ts). */
  follower: WindowFollower;
  /** Per-partition activity behind GET /status (write rate, window step, held writes, last backup). */
  activity: PartitionActivity;
  metricsPort: number | null;
  /** This node's registry as JSON, hot-path counters moved in first (a worker's part of the primary's /metrics). */
  scrapeJson(): Promise<MetricsJson>;
  /** GET /status of this node. */
  status(): NodeStatusJson;
  /** Run one console statement here (a worker, for a console connection that landed on another one). */
  /** Run a console statement relayed from another worker; its rows. */
  runConsole(text: string): Promise<Cell[][]>;
  cluster: LocalCluster | null;
  connectionString: string;
  stop(): Promise<void>;
}

export interface RunNodeOptions {
  /** Demo mode only (no upstream): this many extra private servers as shards of public.readings. */
  demoShards?: number;
  /** Where a reload reads the configuration from (file, environment, flags); throws ConfigError when invalid. */
  reloadConfig?: () => Config;
  /** Test only: shift this node's clock by this much (nodes with disagreeing clocks on one machine). */
  clockOffsetMs?: number;
  /** Test only: reach the database for quietcut's own work (not client sessions) at this address. */
  adminVia?: { host: string; port: number };
  /** One of several worker processes on the listen port (cli/workers): what it shares with the others. */
  worker?: WorkerLink;
}

/** What a worker node needs from its primary. */
export interface WorkerLink {
  slot: number;
  /** A CancelRequest naming another worker's slot. */
  relayCancel(slot: number, pid: number, secret: number): void;
  /** Run a console statement on every other worker: their rows (listings answer for the host) and who failed. */
  everywhere(text: string): Promise<Gathered>;
}

/**
 * Start a node. Any start-up failure stops everything started so far (the private PostgreSQL too)
 * before the error, which names the option to change, reaches the caller.
 */
export async function runNode(config: Config, log: Logger, runOpts: RunNodeOptions = {}): Promise<RunningNode> {
  const undo: Array<() => unknown> = [];
  try {
    return await startNode(config, log, runOpts, undo);
  } catch (err) {
    for (const f of undo.reverse()) {
      try {
        await f();
      } catch (e) {
        log.warn({ err: e }, 'cleanup after a failed start-up failed');
      }
    }
    throw err;
  }
}

/** A listener that cannot bind: say which option to change. */
export function bindError(err: unknown, option: string, hostPort: { host: string; port: number }): Error {
  const code = (err as NodeJS.ErrnoException).code;
  const where = `${hostPort.host}:${hostPort.port}`;
  const why =
    code === 'EADDRINUSE'
      ? `${where} is already in use (is another quietcut running?)`
      : code === 'EADDRNOTAVAIL'
        ? `${hostPort.host} is not an address of this host`
        : code === 'EACCES'
          ? `no permission to listen on ${where} (ports below 1024 need privileges)`
          : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
            ? `host ${hostPort.host} cannot be resolved`
            : `cannot listen on ${where}: ${(err as Error).message}`;
  return new Error(`${why}: change ${option}`);
}

async function startNode(config: Config, log: Logger, runOpts: RunNodeOptions, undo: Array<() => unknown>): Promise<RunningNode> {
  const resolved = await resolveUpstream(config, runOpts.demoShards, log, undo);
  const { upstream, cluster, shards } = resolved;
  config = resolved.config;

  const upstreamTls = loadUpstreamTls(config.upstream.tls);
  const startedAt = new Date();
  const metrics = new Metrics(config.metrics.maxPartitionLabels, config.metrics.maxHistogramPartitions);
  // The configuration in force; a reload replaces it, and what reads it at use sees the new one.
  const live = new NodeConfig(config, {
    source: runOpts.reloadConfig,
    // TLS files are read before anything changes: a missing or bad file refuses the reload whole.
    check: (next) =>
      proxy.reconfigure({
        maxClientConnections: next.limits.maxClientConnections,
        maxMessageBytes: next.limits.maxMessageBytes,
        startupTimeoutMs: next.limits.startupTimeoutMs,
        shutdownTimeoutMs: next.shutdownTimeoutMs,
        tls: next.tls.cert && next.tls.key ? { cert: next.tls.cert, key: next.tls.key } : null,
      }),
    apply: (next, _before, changes) => {
      proxy.heldNoticeAfterMs = next.windows.noticeAfterMs;
      writingFunctions.clear();
      for (const [k, v] of Object.entries(next.sql.writingFunctions)) writingFunctions.set(k, v);
      if (changes.some((c) => c.option.startsWith('catalog.'))) catalog.refreshSoon();
      if (changes.some((c) => /^(backup\.(schedule|planAt|interval|timezone)|planner\.|forecast\.)/.test(c.option))) {
        // A new schedule: the old scheduler's timers go, a new one arms from the stored plans.
        schedulerSwap = schedulerSwap
          .then(async () => {
            await scheduler.stop();
            scheduler = newScheduler(next);
            await scheduler.start();
          })
          .catch((err: unknown) => log.error({ err }, 'rescheduling after reload failed'));
      }
    },
    metrics,
    log,
  });
  const listen = parseHostPort(config.listen);
  const gate = new WindowGate();
  const proxy = new ProxyServer({
    gate,
    listen,
    upstream: {
      host: upstream.host,
      port: upstream.port,
      connectTimeoutMs: config.upstream.connectTimeoutMs,
      startupTimeoutMs: config.upstream.startupTimeoutMs,
      tls: upstreamTls,
    },
    maxClientConnections: config.limits.maxClientConnections,
    maxMessageBytes: config.limits.maxMessageBytes,
    maxBufferedBytes: config.limits.maxBufferedBytes,
    messageTimeoutMs: config.limits.messageTimeoutMs,
    startupTimeoutMs: config.limits.startupTimeoutMs,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    tls: config.tls.cert && config.tls.key ? { cert: config.tls.cert, key: config.tls.key } : null,
    log,
    worker: runOpts.worker ? { slot: runOpts.worker.slot, relay: runOpts.worker.relayCancel } : null,
  });
  // --- what the proxy must know: catalog, classification, write counts
  // Port 0 (tests, or several processes) says nothing about which node this is: add the pid and a nonce.
  const baseNode = process.env.QUIETCUT_NODE ?? (listen.port === 0 ? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}` : `${hostname()}:${listen.port}`);
  // Workers share the port: the slot tells them apart, and a restarted worker takes its slot's id back.
  const worker = runOpts.worker ?? null;
  const node = worker ? `${baseNode}/w${worker.slot}` : baseNode;
  const clock = nodeClock(runOpts.clockOffsetMs ?? 0);
  const adminAt = runOpts.adminVia ? { ...upstream, ...runOpts.adminVia } : upstream;
  const admin = await resolveTlsWhenUp(adminTarget(config, adminAt), config.upstream.startWaitMs, log);
  const pool = adminPool(admin);
  undo.push(() => pool.end());
  pool.on('error', (err) => log.warn({ err: err.message }, 'admin connection error'));
  let systemIdentifier: string | undefined;
  // A connection lost while checked out reports on the client itself; unheard, it would crash the node.
  pool.on('connect', (c) => c.on('error', (err) => log.debug({ err: err.message }, 'admin connection lost while in use')));
  {
    const c = await connectWhenUp(pool, admin, config.upstream.startWaitMs, log);
    try {
      await migrate(c);
      const { rows } = await c.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_catalog.pg_control_system()');
      systemIdentifier = rows[0]?.id;
    } finally {
      c.release();
    }
  }
  await initSqlParser();
  const classifier = new SqlClassifier({ cacheEntries: config.sql.statementCacheSize });
  const catalog = new CatalogRefresher({
    intervalMs: config.catalog.refreshIntervalMs,
    load: async () => {
      const c = await pool.connect();
      try {
        return await loadCatalog(c, { schemas: [...live.current.catalog.schemas], plainTables: [...live.current.catalog.plainTables] });
      } finally {
        c.release();
      }
    },
    onError: (err) => log.warn({ err }, 'catalog refresh failed; keeping the previous one'),
  });
  await catalog.start();
  undo.push(() => catalog.stop());
  const recorder = new WriteRecorder({ metrics, node, log });
  const activity = new PartitionActivity();
  const writingFunctions = new Map<string, readonly string[]>(Object.entries(config.sql.writingFunctions));
  const shared: InspectorShared = {
    classifier,
    catalog: (): Catalog | undefined => catalog.current,
    markStale: (ref, searchPath, user) => (ref ? catalog.markStale(ref, searchPath, user) : catalog.refreshSoon()),
    sink: {
      record(table, partitions, rows) {
        recorder.record(table, partitions, rows);
        activity.record(table, partitions, rows);
      },
    },
    writingFunctions,
    preparedGids: new Map(),
    unclassified: () => metrics.unclassifiedStatements.inc(),
    failClosed: config.windows.failClosed,
    readOnlyFunctions: new Set(config.sql.readOnlyFunctions),
  };
  gate.onFailClosed = (reason) => metrics.gateFailClosed.labels(reason).inc();
  if (config.sql.enabled) {
    proxy.setInspectorFactory((params) =>
      (params.get('database') ?? params.get('user')) === admin.database ? new WriteInspector(shared, params) : new NullInspector(),
    );
  }

  const stats = new NodeStats({ stats: config.stats, pool, recorder, catalog, metrics, node, log });
  const flushStats = (): Promise<void> => stats.flush();
  stats.start();
  undo.push(() => stats.stop());

  // --- windows and backups
  const target: PgTarget = { host: admin.host, port: admin.port, user: admin.user, database: admin.database, tls: admin.tls, connectTimeoutMs: admin.connectTimeoutMs };
  const adminPassword = process.env.QUIETCUT_ADMIN_PASSWORD ?? process.env.PGPASSWORD;
  if (adminPassword) target.password = adminPassword;
  // --- several nodes: window events first (nothing announced from here on is missed), then the
  // lease (from here on windows wait for this node), then every window already open is held
  // before the first client is accepted.
  const bus = new WindowBus(target, log);
  undo.push(() => bus.stop());
  await bus.start();
  const membership = new Membership({
    pool,
    node,
    clock,
    info: { host: hostname(), pid: process.pid, version: BUILD.version, role: worker ? 'worker' : 'node' },
    takeMinClientRttMs: () => proxy.takeMinClientRttMs(),
    metrics,
    log,
    leaseMs: config.nodes.leaseMs,
    ...(config.nodes.heartbeatMs === null ? {} : { heartbeatMs: config.nodes.heartbeatMs }),
  });
  undo.push(() => membership.stop());
  await membership.start();
  const coordination = new NodeCoordination({ pool, bus, node, membership, log });
  const follower = new WindowFollower({ pool, bus, node, gate, config, membership, metrics, log, pollMs: config.nodes.pollMs });
  undo.push(() => follower.stop());
  await follower.start();
  const fence = new ContactFence({
    gate,
    partitions: () => catalog.current.leaves().map((l) => l.name),
    budgetMs: config.windows.maxHoldMs,
    maxQueuedRequests: config.windows.maxQueuedRequests,
    maxQueuedBytes: config.windows.maxQueuedBytes,
    metrics,
    log,
  });
  undo.push(() => fence.stop());
  const unwatch = watchContact(membership, follower, fence, node, config.nodes.pollMs, log);
  undo.push(unwatch);
  const backups = new NodeBackups({ catalog, activity, config: () => live.current, gate, target, pool, node, metrics, log, coordination, systemIdentifier });
  const backup: RunningNode['backup'] = (partitions, o) => backups.backup(partitions, o);
  const requests = new BackupRequests({
    pool,
    target,
    node,
    log,
    backup,
    leaves: () => catalog.current.leaves().map((l) => l.name),
    rootOf: (p) => catalog.current.leaves().find((l) => l.name === p)?.root ?? p,
  });
  undo.push(() => requests.stop());
  await requests.start();
  // --- schedule: plan each interval and run windows at their planned times (or, with
  // planner.enabled false, back up everything at each backup.schedule tick)
  const newScheduler = (c: Config): PlanScheduler => new PlanScheduler({ config: c, pool, target, node, metrics, log, leaves: () => catalog.current.leaves(), backup, liveWrites: (p) => recorder.totalWrites(p), seesAllWrites: () => membership.live.every((n) => n.node === node) });
  let scheduler = newScheduler(config);
  undo.push(() => scheduler.stop());
  await scheduler.start();
  const pauses = new Pauses({ gate, metrics });
  proxy.heldNoticeAfterMs = config.windows.noticeAfterMs;


  undo.push(() => proxy.shutdown(0));
  const addr = await proxy.listen().catch((err: unknown) => {
    throw bindError(err, "'listen' (--listen)", listen);
  });
  // The listener is bound, so no other live process on this host has this node's id: whatever it
  // left claimed or running is from an earlier life (SIGKILL, crash) and ends now.
  await requests.reclaim(true).catch((err: unknown) => log.warn({ err }, 'reclaiming earlier work failed; it ends when it goes stale'));

  const beforeScrape = scrapeHook(proxy, metrics, () => catalog.current);
  const status = (): NodeStatusJson => ({ listen: `${addr.host}:${addr.port}`, clients: proxy.clientConnections, upstream: `${upstream.host}:${upstream.port}`, ...partitionStatus(node, catalog, activity) });
  let metricsPort: number | null = null;
  let closeMetrics: (() => Promise<void>) | null = null;
  // Workers leave the endpoint to their primary, which sums their registries.
  if (config.metrics.listen && !worker) {
    const m = parseHostPort(config.metrics.listen);
    const http = await startMetricsHttp({
      host: m.host,
      port: m.port,
      scrape: async () => {
        beforeScrape();
        return { contentType: metrics.registry.contentType, text: await metrics.registry.metrics() };
      },
      status,
    }).catch((err: unknown) => {
      throw bindError(err, "'metrics.listen' (--metrics)", m);
    });
    metricsPort = http.port;
    closeMetrics = http.close;
  }

  // --- the admin console on the proxy's port, and reloads
  const { server: consoleServer, commands } = startConsole(proxy, config, {
    node,
    listen: `${addr.host}:${addr.port}`,
    upstream: `${upstream.host}:${upstream.port}`,
    upstreamAt: upstream,
    admin,
    startedAt,
    config: () => live.current,
    reload: () => live.reload(),
    proxy,
    activity,
    leaves: () => catalog.current.leaves(),
    pauses,
    metrics,
    pool,
    backup: (partitions, o) => backup(partitions, o),
    ...(worker ? { everywhere: worker.everywhere } : {}),
    log,
  });

  let schedulerSwap: Promise<void> = Promise.resolve();

  const db = upstream.database ?? 'postgres';
  const user = upstream.user ?? 'postgres';
  const connectionString = `postgres://${encodeURIComponent(user)}@${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port}/${encodeURIComponent(db)}`;

  return {
    proxy,
    get config() {
      return live.current;
    },
    node,
    admin,
    pool,
    catalog,
    recorder,
    classifier,
    flushStats,
    gate,
    backup,
    metrics,
    get scheduler() {
      return scheduler;
    },
    async reload() {
      const r = live.reload();
      await schedulerSwap;
      return r;
    },
    pauses,
    console: consoleServer,
    membership,
    follower,
    activity,
    metricsPort,
    async scrapeJson() {
      beforeScrape();
      return metrics.registry.getMetricsAsJSON();
    },
    status,
    runConsole: (text) => runRelayedConsole(commands, text),
    cluster,
    connectionString,
    async stop() {
      await schedulerSwap;
      await scheduler.stop();
      pauses.stop();
      consoleServer.close();
      await requests.stop();
      await proxy.shutdown();
      await backups.idle();
      unwatch();
      fence.stop();
      await follower.stop();
      await membership.stop();
      await bus.stop();
      stats.stop();
      catalog.stop();
      await flushStats().catch((err: unknown) => log.warn({ err }, 'final history flush failed'));
      await pool.end();
      await closeMetrics?.();
      await cluster?.stop();
      await shards?.stop();
    },
  };
}

/** The per-partition part of GET /status: every managed leaf, quiet ones too, for `quietcut status`. */
export function partitionStatus(node: string, catalog: CatalogRefresher, activity: PartitionActivity): { node: string; now: number; partitions: PartitionStatus[] } {
  for (const l of catalog.current.leaves()) activity.know(l.name, l.root);
  return { node, now: Date.now(), partitions: activity.snapshot() };
}
