import cron from 'node-cron';
import { z } from 'zod';
import { PG_MAX_MESSAGE_BYTES } from '../protocol/limits.js';
import { SSL_MODES } from '../util/pg-tls.js';

/**
 * The one description of quietcut's configuration. Every option has a default and a description;
 * the README's configuration reference and config/quietcut.example.yaml are generated from it.
 * Objects are strict: an unknown key is an error naming the key.
 */

const hostPort = z
  .string()
  .regex(/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, 'expected HOST:PORT, e.g. 127.0.0.1:6432')
  .refine((s) => Number(s.slice(s.lastIndexOf(':') + 1)) <= 65535, { message: 'port must be 0-65535 (0: any free port)' });
// Checked with the scheduler's own parser, so a typo fails at start naming its key, not at the first tick.
const cronExpr = z.string().min(1).refine((s) => cron.validate(s), { message: 'not a valid cron expression (node-cron syntax: [second] minute hour day-of-month month day-of-week, e.g. "0 1 * * *")' });
const timeZone = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { message: 'not an IANA time zone (e.g. UTC, Europe/Berlin)' },
);
const hhmmRange = z.string().regex(/^\d{2}:\d{2}-\d{2}:\d{2}$/, 'expected HH:MM-HH:MM, e.g. 01:00-07:00');

export const windowModeSchema = z.enum(['hold', 'reject']).describe('hold: queue writes during the window; reject: answer them with an error');
export const releaseRuleSchema = z
  .enum(['after-snapshot', 'after-dump'])
  .describe('after-snapshot: release held writes as soon as the snapshot is pinned; after-dump: when pg_dump has finished');

const partitionOverride = z.strictObject({
  mode: windowModeSchema.optional(),
  release: releaseRuleSchema.optional(),
  maxHoldMs: z.number().int().positive().optional().describe('disruption budget: longest a window may hold this partition'),
  maxQueuedRequests: z.number().int().positive().optional(),
  maxQueuedBytes: z.number().int().positive().optional(),
});
export type PartitionOverride = z.infer<typeof partitionOverride>;

export const configSchema = z.strictObject({
  listen: hostPort.default('127.0.0.1:6432').describe('where applications connect'),
  upstream: z
    .strictObject({
      url: z
        .string()
        .nullable()
        .default(null)
        .describe('PostgreSQL to proxy to, postgres://host:port/dbname (no password here: use PGPASSWORD/PGPASSFILE). null: start a private local PostgreSQL with a demo table'),
      connectTimeoutMs: z
        .number()
        .int()
        .positive()
        .default(5000)
        .describe("time allowed for each step of opening a server connection: TCP connect, TLS negotiation, the server's first answer to the startup packet (also quietcut's own connections)"),
      startupTimeoutMs: z
        .number()
        .int()
        .positive()
        .default(65_000)
        .describe("a server connection must finish startup and authentication (first ReadyForQuery) in this time; longer than PostgreSQL's authentication_timeout (60 s) so a live server's own timeout wins"),
      tls: z
        .strictObject({
          mode: z
            .enum(SSL_MODES)
            .default('prefer')
            .describe("TLS to PostgreSQL, libpq's sslmode words: disable, prefer (TLS when the server offers it), require, verify-ca (chain checked against rootCert), verify-full (and the host name); require with a rootCert verifies as verify-ca, as libpq does"),
          rootCert: z.string().nullable().default(null).describe('PEM file of the CA that signed the server certificate (libpq sslrootcert); needed by verify-ca and verify-full'),
          cert: z.string().nullable().default(null).describe("PEM client certificate quietcut presents to the server (libpq sslcert), e.g. for pg_hba 'cert' lines for quietcut's own role"),
          key: z.string().nullable().default(null).describe('PEM private key of cert (libpq sslkey)'),
        })
        .prefault({})
        .describe('used for client sessions and for quietcut\'s own connections (catalog, history, pins, pg_dump through PGSSLMODE, PGSSLROOTCERT, PGSSLCERT, PGSSLKEY)'),
      startWaitMs: z.number().int().nonnegative().default(60_000).describe('at start, how long to wait for PostgreSQL to accept connections (it may be starting too)'),
    })
    .prefault({}),
  admin: z
    .strictObject({
      user: z.string().nullable().default(null).describe("role quietcut uses for its own connections (catalog, stats, snapshots, pg_dump); null: the upstream URL's user, else 'postgres'"),
      database: z.string().nullable().default(null).describe("database quietcut manages; null: the upstream URL's database"),
    })
    .prefault({})
    .describe('passwords come from QUIETCUT_ADMIN_PASSWORD, PGPASSWORD or a passfile (PGPASSFILE), never from this file'),
  tls: z
    .strictObject({
      cert: z.string().nullable().default(null).describe('PEM certificate file; with key, clients may connect with TLS'),
      key: z.string().nullable().default(null).describe('PEM private key file'),
    })
    .prefault({}),
  limits: z
    .strictObject({
      maxClientConnections: z.number().int().positive().default(1000).describe('more clients than this get SQLSTATE 53300'),
      maxMessageBytes: z
        .number()
        .int()
        .positive()
        .default(PG_MAX_MESSAGE_BYTES)
        .describe("largest client message (type byte included) the proxy takes; the default is PostgreSQL's own limit (1 GiB - 1), past which the server closes without a word and so does quietcut; a lower value closes such a client with 08P01"),
      maxBufferedBytes: z
        .number()
        .int()
        .positive()
        .default(512 * 1024 * 1024)
        .describe('bytes of incomplete client messages buffered across all clients at once; a message that would pass it closes its connection with 53200. Buffers grow as bytes arrive, not to the declared size'),
      messageTimeoutMs: z.number().int().nonnegative().default(60_000).describe('a client message that stops arriving halfway for this long closes the connection with 08P01; 0: never'),
      startupTimeoutMs: z
        .number()
        .int()
        .positive()
        .default(60_000)
        .describe("a client must send its startup packet in this time, else it is closed without a word (PostgreSQL's authentication_timeout)"),
    })
    .prefault({}),
  workers: z
    .union([z.literal('auto'), z.number().int().min(1).max(256)])
    .default(1)
    .describe('worker processes sharing the listen port, each a full node: a number, or auto for one per CPU core; more than 1 needs upstream.url'),
  shutdownTimeoutMs: z.number().int().nonnegative().default(30_000).describe('on SIGTERM/SIGINT, how long sessions may finish before they are closed'),
  metrics: z
    .strictObject({
      listen: hostPort.nullable().default('127.0.0.1:9187').describe('metrics and admin HTTP endpoint; null disables it'),
      maxPartitionLabels: z.number().int().positive().default(2000).describe('cap on distinct partition label values; further partitions are summed under partition="_other"'),
      maxHistogramPartitions: z
        .number()
        .int()
        .nonnegative()
        .default(100)
        .describe('series budget of the per-partition histograms (each partition costs about 16 series per histogram): past this many partitions, further ones are observed under partition="_other"'),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      pretty: z.boolean().nullable().default(null).describe('human-readable logs; null: when stdout is a terminal'),
    })
    .prefault({}),
  catalog: z
    .strictObject({
      schemas: z.array(z.string()).default([]).describe('schemas whose partitioned tables quietcut manages; empty: all'),
      plainTables: z.array(z.string()).default([]).describe('plain tables treated as one-partition tables (schema.table)'),
      refreshIntervalMs: z.number().int().positive().default(60_000).describe('how often the partition catalog is reloaded (also right after DDL seen through the proxy)'),
    })
    .prefault({}),
  sql: z
    .strictObject({
      enabled: z.boolean().default(true).describe('classify statements (needed for windows and write history); false: pass bytes through unparsed'),
      writingFunctions: z
        .record(z.string(), z.array(z.string()))
        .default({})
        .describe('functions that write tables, e.g. {"public.archive_events": ["public.events"]}; a call counts as writing every partition of those tables'),
      statementCacheSize: z.number().int().nonnegative().default(5000).describe('parsed statements kept per process'),
      readOnlyFunctions: z
        .array(z.string())
        .default([])
        .describe(
          'functions outside pg_catalog known to write no table (schema.function or function, as called); any other such call is held during windows as a write of unknown tables',
        ),
    })
    .prefault({}),
  stats: z
    .strictObject({
      enabled: z.boolean().default(true).describe('record per-partition write rates in the quietcut schema'),
      flushIntervalMs: z.number().int().positive().default(10_000).describe('how often per-minute buckets are written to the database'),
      tableStatsIntervalMs: z.number().int().positive().default(60_000).describe('how often pg_stat_user_tables is sampled (cross-check, bypassing writes)'),
      retentionDays: z.number().int().positive().default(70).describe('history kept for the forecast'),
    })
    .prefault({}),
  windows: z
    .strictObject({
      mode: windowModeSchema.default('hold'),
      release: releaseRuleSchema.default('after-snapshot'),
      rejectSqlState: z.string().regex(/^[0-9A-Z]{5}$/).default('55P03').describe('SQLSTATE sent to writes rejected in reject mode'),
      maxHoldMs: z.number().int().positive().default(5000).describe('default disruption budget per partition'),
      maxQueuedRequests: z.number().int().positive().default(10_000).describe('held requests per partition before overflow is rejected'),
      maxQueuedBytes: z.number().int().positive().default(64 * 1024 * 1024).describe('held bytes per partition before overflow is rejected'),
      noticeAfterMs: z
        .number()
        .int()
        .nonnegative()
        .nullable()
        .default(1000)
        .describe('a client whose write is held this long gets a NOTICE naming the partition and the expected release, once per held request; null: never'),
      groups: z
        .union([z.enum(['partition', 'table']), z.record(z.string(), z.array(z.string()))])
        .default('partition')
        .describe("consistency groups: 'partition' (each alone), 'table' (all partitions of a table), or named lists of schema.partition"),
      partitions: z.record(z.string(), partitionOverride).default({}).describe('per-partition overrides, keyed by schema.partition'),
      failClosed: z
        .boolean()
        .default(true)
        .describe(
          'true: a request whose writes quietcut cannot know (DO blocks, functions not known read-only, unparsable SQL, SQL under unmodelled session settings, unknown prepared transactions) is held or rejected while any window is open and drained before any cut, and statements that are not MVCC-safe (TRUNCATE, rewrites, DDL) wait until the dumps hold their locks; false: such requests pass and backups may miss or split their writes (counted only in quietcut_unclassified_statements_total)',
        ),
    })
    .prefault({}),
  backup: z
    .strictObject({
      dir: z.string().default('./backups').describe('where runs are written: <dir>/<run-id>/<schema>.<partition>.dump and manifest.json'),
      schedule: cronExpr
        .nullable()
        .default(null)
        .describe(
          'cron expression (node-cron syntax). With planner.enabled it plans the next interval at each tick (unless planAt is set) and windows run at their planned times; with planner.enabled false every partition is backed up at each tick. null: backups only on demand (and by planAt)',
        ),
      planAt: cronExpr
        .nullable()
        .default(null)
        .describe('cron expression for planning the next interval that has not begun (planner.enabled); must fire before the interval starts. null: plan at each schedule tick'),
      interval: hhmmRange.default('01:00-07:00').describe('the daily interval in which windows are planned, wall-clock times in timezone; an end at or before the start is on the next day'),
      timezone: timeZone.default('UTC').describe('IANA time zone of interval, schedule and planAt'),
      maxConcurrentDumps: z.number().int().positive().default(2).describe('dumps running at once per server'),
      lockWaitTimeoutMs: z.number().int().positive().default(5000).describe('pg_dump --lock-wait-timeout'),
      compression: z.number().int().min(0).max(9).default(6).describe('pg_dump -Z level for -Fc archives'),
      keepRuns: z.number().int().positive().default(7).describe('good runs kept per partition'),
      skipUnchanged: z.boolean().default(true).describe('skip partitions with no writes since their last good backup'),
      defaultThroughputBytesPerSec: z.number().positive().default(50 * 1024 * 1024).describe('dump speed assumed before a partition has been dumped'),
    })
    .prefault({}),
  forecast: z
    .strictObject({
      stepMinutes: z.number().int().positive().default(5),
      quantile: z.number().gt(0.5).lt(1).default(0.9).describe('upper quantile the planner uses to be careful'),
      historyDays: z.number().int().positive().default(56),
    })
    .prefault({}),
  planner: z
    .strictObject({
      enabled: z
        .boolean()
        .default(true)
        .describe(
          'plan each partition\'s window in the quietest time of backup.interval from recorded history (nodes arm the stored plan, one node plans under an advisory lock); false: back up every partition at each backup.schedule tick',
        ),
      heldWeight: z.number().nonnegative().default(1).describe('weight of predicted held writes in the cost'),
      overlapWeight: z.number().nonnegative().default(0.1).describe('weight of predicted load overlapping each dump'),
      clockSkewMs: z.number().nonnegative().default(0).describe('extra margin for clock skew between nodes (measured when several nodes run)'),
      minRoundTripMs: z.number().nonnegative().default(0).describe('minimum client round trip; shortens the needed overlap'),
    })
    .prefault({}),
  nodes: z
    .strictObject({
      leaseMs: z.number().int().min(200).default(10_000).describe('how long a heartbeat keeps a node live; windows wait for every live node, a node that cannot renew stops trusting itself after half of it'),
      heartbeatMs: z.number().int().positive().nullable().default(null).describe('how often a node renews its lease and measures its clock offset; null: a quarter of leaseMs'),
      pollMs: z.number().int().positive().default(250).describe("how often a node re-reads open windows and their end, in case a notification was missed (it holds until it knows)"),
    })
    .prefault({})
    .describe('several quietcut nodes in front of the same database: membership, leases, shared windows'),
  console: z
    .strictObject({
      database: z.string().min(1).default('quietcut').describe("the admin console's virtual database: psql -p 6432 -U ROLE quietcut answers SHOW WINDOWS, PAUSE, RELOAD…"),
      roles: z
        .array(z.string())
        .nullable()
        .default(null)
        .describe("roles allowed into the console; each must authenticate against the upstream server (to console.authDatabase) first. null: only quietcut's admin role; []: console off"),
      authDatabase: z.string().nullable().default(null).describe('database a console role authenticates to on the upstream server; null: the managed database'),
      maxPauseMs: z.number().int().positive().default(300_000).describe('longest PAUSE the console grants (its TIMEOUT defaults to windows.maxHoldMs)'),
    })
    .prefault({})
    .describe('the admin console served on the proxy port (like PgBouncer\'s pgbouncer database)'),
  servers: z
    .record(
      z.string(),
      z.strictObject({
        url: z
          .string()
          .describe('connection for snapshots and pg_dump on this foreign server, postgres://user@host:port/dbname; no password (PGPASSWORD, QUIETCUT_ADMIN_PASSWORD or a passfile)'),
      }),
    )
    .default({})
    .describe('foreign servers (postgres_fdw) by name, for cuts across servers; a server not listed is reached at its own host/port/dbname options as the admin user'),
  demo: z
    .strictObject({
      load: z.boolean().default(true).describe('with no upstream configured, drive the demo tables with a built-in load generator (quietcut start --no-demo-load turns it off)'),
      dayMs: z.number().int().min(24_000).default(120_000).describe('how long one simulated day of demo load lasts; windows are planned one simulated day ahead'),
      peakWritesPerSec: z.number().positive().default(25).describe('demo load: writes per second of the busiest partition at its peak hour'),
      release: releaseRuleSchema.default('after-dump').describe('release rule of demo windows; after-dump holds writes for the whole dump, so held writes are visible'),
      statsFlushIntervalMs: z.number().int().positive().default(2000).describe('stats.flushIntervalMs in demo mode, so history accumulates while you watch'),
    })
    .prefault({})
    .describe('the living demo `quietcut start` runs when no upstream is configured'),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
