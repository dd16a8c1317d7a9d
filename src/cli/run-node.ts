import { LocalCluster } from '../localdb/cluster.js';
import { DEMO_SHARD_TABLE, startDemoShards, type DemoShards } from '../localdb/demo-shards.js';
import type { Config } from '../config/schema.js';
import { BUILD, Metrics } from '../metrics/registry.js';
import { startMetricsHttp } from '../metrics/http.js';
import { ProxyServer } from '../proxy/server.js';
import { scrapeHook } from './scrape-hook.js';
import { parseHostPort, parseUpstreamUrl } from '../proxy/upstream.js';
import type { Logger } from '../util/log.js';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type pg from 'pg';
import { CatalogRefresher, loadCatalog, type Catalog } from '../catalog/index.js';
import { initSqlParser, SqlClassifier } from '../sql/index.js';
import { migrate } from '../store/migrate.js';
import { WriteRecorder } from '../stats/recorder.js';
import { bypassHorizonMs, pruneHistory, TableStatsSampler } from '../stats/table-stats.js';
import { NullInspector } from '../proxy/inspector.js';
import { WriteInspector, type InspectorShared } from '../proxy/write-inspector.js';
import { adminPool, adminTarget, type AdminTarget } from './admin-db.js';
import { connectWhenUp, resolveTlsWhenUp } from './wait-for-db.js';
import { loadUpstreamTls } from '../util/pg-tls.js';
import { WindowGate } from '../windows/gate.js';
import { runBackup, type BackupRunResult } from '../coordinator/backup-run.js';
import { locateForeign } from '../windows/servers.js';
import type { ReleaseRule, WindowMode } from '../windows/window.js';
import { BackupRequests } from '../coordinator/requests.js';
import { parseTableName, type PgTarget } from '../backup/index.js';
import { PlanScheduler } from '../coordinator/scheduler.js';
import { nodeClock } from '../coordinator/clock.js';
import { WindowFollower } from '../coordinator/follower.js';
import { Membership } from '../coordinator/membership.js';
import { ContactFence, watchContact } from '../coordinator/contact-fence.js';
import { NodeCoordination } from '../coordinator/shared-windows.js';
import { WindowBus } from '../coordinator/window-bus.js';
import { PartitionActivity, type PartitionStatus } from './node-status.js';
import { diffConfig, type ReloadResult } from '../config/reload.js';
import { ConsoleServer, type Cell } from '../proxy/console/index.js';
import type { Gathered } from './workers/messages.js';
import { Pauses } from '../windows/pause.js';
import { consoleCommands, runRelayedConsole } from './console-commands.js';
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
  backup(partitions: readonly string[], opts?: { mode?: WindowMode; release?: ReleaseRule; trigger?: string; onProgress?: (p: string, state: string) => void }): Promise<BackupRunResult>;
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
  /** Run a console statement on every other worker; the failures, one line each. */
  everywhere(text: string): Promise<string[]>;
  /** A console statement's rows on every other worker (SHOW CLIENTS, SHOW HOLDS: one host, one answer). */
  gather(text: string): Promise<Gathered>;
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
  let cluster: LocalCluster | null = null;
  let shards: DemoShards | null = null;
  let upstream: { host: string; port: number; database: string | null; user: string | null };
  if (config.upstream.url) {
    upstream = parseUpstreamUrl(config.upstream.url);
  } else {
    log.info('no upstream configured: starting a private PostgreSQL with a demo partitioned table');
    cluster = await LocalCluster.start({ demo: true, log });
    const started = cluster;
    undo.push(() => started.stop());
    upstream = { host: cluster.host, port: cluster.port, database: 'demo', user: 'postgres' };
    if (runOpts.demoShards) {
      shards = await startDemoShards(cluster, runOpts.demoShards, 'demo', log);
      const s = shards;
      undo.push(() => s.stop());
      // One cut across the shards, unless the configuration names its own groups.
      if (config.windows.groups === 'partition') config = { ...config, windows: { ...config.windows, groups: { [DEMO_SHARD_TABLE]: shards.leaves } } };
    }
  }
  if (runOpts.demoShards && !shards) throw new Error('--demo-shards needs demo mode: it starts its own shards next to the private PostgreSQL (no upstream.url)');

  const upstreamTls = loadUpstreamTls(config.upstream.tls);
  // The configuration in force; a reload replaces it, and what reads it at use sees the new one.
  let current = config;
  const startedAt = new Date();
  const metrics = new Metrics(config.metrics.maxPartitionLabels, config.metrics.maxHistogramPartitions);
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
        return await loadCatalog(c, { schemas: [...current.catalog.schemas], plainTables: [...current.catalog.plainTables] });
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

  const flushStats = async (): Promise<void> => {
    if (!config.stats.enabled) return;
    const c = await pool.connect();
    try {
      await recorder.flush(c);
    } finally {
      c.release();
    }
  };
  const sampler = new TableStatsSampler({ metrics, node, horizonMs: bypassHorizonMs(config.stats) });
  const timers: NodeJS.Timeout[] = [];
  if (config.stats.enabled) {
    timers.push(setInterval(() => flushStats().catch(() => undefined), config.stats.flushIntervalMs));
    timers.push(
      setInterval(() => {
        void (async () => {
          const c = await pool.connect();
          try {
            await sampler.sample(c, catalog.current.leaves().map((l) => l.name), recorder.takeRowsSince());
            await pruneHistory(c, config.stats.retentionDays);
          } finally {
            c.release();
          }
        })().catch((err: unknown) => log.warn({ err }, 'table stats sample failed'));
      }, config.stats.tableStatsIntervalMs),
    );
    for (const t of timers) t.unref();
    undo.push(() => timers.forEach((t) => clearInterval(t)));
  }

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
  watchContact(membership, follower, fence, node, config.nodes.pollMs, log);
  let backupChain: Promise<unknown> = Promise.resolve();
  const backup: RunningNode['backup'] = (partitions, o = {}) => {
    const cat = catalog.current;
    const known = new Map(cat.leaves().map((l) => [l.name, l.root]));
    const tableOf = new Map(cat.leaves().map((l) => [l.name, l.table ?? parseTableName(l.name)]));
    for (const p of partitions) if (!known.has(p)) return Promise.reject(new Error(`unknown partition ${p}: not a leaf of a managed table`));
    // One run at a time on a node: two runs must not hold the same partition.
    const onProgress = (p: string, state: string): void => {
      activity.windowStep(p, state);
      o.onProgress?.(p, state);
    };
    for (const p of partitions) activity.windowStep(p, 'queued');
    // Foreign leaves (postgres_fdw) are dumped on their own servers, each in its own snapshot.
    const foreignLeaves = cat.leaves().filter((l) => l.foreignServer !== null).map((l) => l.name);
    const run = backupChain.then(async () => {
      const config = current;
      const foreign = foreignLeaves.length > 0 ? await locateForeign(pool, foreignLeaves, { config, admin: target }) : null;
      return runBackup({
        partitions,
        ...(foreign ? { foreign } : {}),
        rootOf: (p) => known.get(p) ?? p,
        tableOf: (p) => tableOf.get(p) ?? parseTableName(p),
        ...(systemIdentifier ? { systemIdentifier } : {}),
        config,
        ...(o.mode ? { mode: o.mode } : {}),
        ...(o.release ? { release: o.release } : {}),
        gate,
        target,
        pool,
        node,
        trigger: o.trigger ?? 'manual',
        metrics,
        log,
        onProgress,
        coordination,
      });
    });
    run.then((r) => activity.backupDone(r), () => activity.backupFailed(partitions));
    backupChain = run.catch(() => undefined);
    return run;
  };
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
  const newScheduler = (c: Config): PlanScheduler => new PlanScheduler({ config: c, pool, target, node, metrics, log, leaves: () => catalog.current.leaves(), backup, liveWrites: (p) => recorder.totalWrites(p) });
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
  const commands = consoleCommands({
    node,
    listen: `${addr.host}:${addr.port}`,
    upstream: `${upstream.host}:${upstream.port}`,
    startedAt,
    config: () => current,
    reload: () => reloadNow(),
    proxy,
    console: (): ConsoleServer => consoleServer,
    activity,
    leaves: () => catalog.current.leaves(),
    pauses,
    metrics,
    pool,
    backup: (partitions, o) => backup(partitions, o),
    ...(worker ? { everywhere: worker.everywhere, gather: worker.gather } : {}),
  });
  const consoleServer: ConsoleServer = new ConsoleServer({
    database: config.console.database,
    allowed: () => current.console.roles ?? [admin.user],
    authDatabase: () => current.console.authDatabase ?? admin.database,
    upstream: { host: upstream.host, port: upstream.port, connectTimeoutMs: config.upstream.connectTimeoutMs },
    authTimeoutMs: config.upstream.connectTimeoutMs + config.limits.startupTimeoutMs,
    commands,
    log,
  });
  // The console's virtual database is claimed at startup, before any server connection is made.
  proxy.claimStartup = (client, params, rest) => {
    if ((params.get('database') ?? params.get('user')) !== consoleServer.database) return false;
    // The session removes its listeners once this returns: open on the next tick, socket paused.
    client.pause();
    queueMicrotask(() => consoleServer.open(client, params, rest));
    return true;
  };

  let schedulerSwap: Promise<void> = Promise.resolve();
  const reloadNow = (): ReloadResult => {
    let next: Config;
    try {
      if (!runOpts.reloadConfig) throw new Error('this node was started without a configuration source to reload from');
      next = runOpts.reloadConfig();
      // TLS files are read before anything changes: a missing or bad file refuses the reload whole.
      proxy.reconfigure({
        maxClientConnections: next.limits.maxClientConnections,
        maxMessageBytes: next.limits.maxMessageBytes,
        startupTimeoutMs: next.limits.startupTimeoutMs,
        shutdownTimeoutMs: next.shutdownTimeoutMs,
        tls: next.tls.cert && next.tls.key ? { cert: next.tls.cert, key: next.tls.key } : null,
      });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      metrics.configReloads.labels('invalid').inc();
      log.error({ err: error }, 'configuration reload refused; the previous configuration stays in force');
      return { ok: false, error };
    }
    const changes = diffConfig(current, next);
    const before = current;
    // Options that need a restart keep their running values, so the node stays consistent.
    current = next;
    if (next.log.level !== before.log.level) log.level = next.log.level;
    proxy.heldNoticeAfterMs = next.windows.noticeAfterMs;
    writingFunctions.clear();
    for (const [k, v] of Object.entries(next.sql.writingFunctions)) writingFunctions.set(k, v);
    if (changes.some((c) => c.option.startsWith('catalog.'))) catalog.refreshSoon();
    if (changes.some((c) => /^(backup\.(schedule|planAt|interval|timezone)|planner\.|forecast\.)/.test(c.option))) {
      // A new schedule: the old scheduler's timers go, a new one arms from the stored plans.
      schedulerSwap = schedulerSwap.then(async () => {
        await scheduler.stop();
        scheduler = newScheduler(next);
        await scheduler.start();
      }).catch((err: unknown) => log.error({ err }, 'rescheduling after reload failed'));
    }
    const restart = changes.filter((c) => c.applies === 'restart');
    metrics.configReloads.labels('applied').inc();
    metrics.configRestartPending.set(restart.length);
    log.info({ live: changes.filter((c) => c.applies === 'live').map((c) => c.option), restart: restart.map((c) => c.option) }, restart.length > 0 ? 'configuration reloaded; some changes need a restart' : 'configuration reloaded');
    return { ok: true, changes };
  };

  const db = upstream.database ?? 'postgres';
  const user = upstream.user ?? 'postgres';
  const connectionString = `postgres://${encodeURIComponent(user)}@${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port}/${encodeURIComponent(db)}`;

  return {
    proxy,
    get config() {
      return current;
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
      const r = reloadNow();
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
      await backupChain;
      fence.stop();
      await follower.stop();
      await membership.stop();
      await bus.stop();
      for (const t of timers) clearInterval(t);
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
