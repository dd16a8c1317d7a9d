/**
 * Soak under faults (issue 15): writers through quietcut, a backup window every few seconds, and
 * a fault every minute, in turn: PostgreSQL fast restart, pg_dump killed, quietcut killed (-9) and
 * restarted. Prints acknowledged / lost / duplicated writes, runs good/failed/aborted (and any left
 * running), quietcut's RSS and open file descriptors over time against the first (fault-free)
 * minute as baseline, and anything left running at the end. Bounded: at most 30 minutes.
 *
 *   npx tsx bench/soak-faults.ts [minutes=3] [writers=4] [windowEverySec=4]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, LocalCluster } from '../src/localdb/cluster.js';
import { FaultWriter, lostAndDuplicated } from '../test/helpers/fault-writer.js';
import { processesMentioning } from '../test/helpers/invariants.js';

const minutes = Math.min(30, Number(process.argv[2] ?? 3));
const writers = Number(process.argv[3] ?? 4);
const windowEveryMs = Number(process.argv[4] ?? 4) * 1000;
const faultEveryMs = 60_000;
const DB = 'soak';

const dir = mkdtempSync(join(tmpdir(), 'qc-soak-'));
chmodSync(dir, 0o755);
const backupDir = join(dir, 'runs');
const cluster = await LocalCluster.start();
await cluster.createDatabase(DB);
await cluster.query(
  `CREATE TABLE s (id bigint NOT NULL, k int NOT NULL, pad text) PARTITION BY LIST (k);
   CREATE TABLE s_0 PARTITION OF s FOR VALUES IN (0);
   CREATE TABLE s_1 PARTITION OF s FOR VALUES IN (1);
   CREATE TABLE s_2 PARTITION OF s FOR VALUES IN (2);
   CREATE TABLE s_3 PARTITION OF s FOR VALUES IN (3);
   -- dumps that take a moment, so faults land inside windows
   INSERT INTO s SELECT -g, g % 4, md5(g::text) || md5((g * 3)::text) FROM generate_series(1, 400000) g;`,
  [],
  DB,
);
const port = await freePort();
const cfg = join(dir, 'quietcut.yaml');
writeFileSync(
  cfg,
  [
    `listen: 127.0.0.1:${port}`,
    'upstream:',
    `  url: ${cluster.url(DB)}`,
    'metrics:',
    '  listen: null',
    'windows:',
    '  release: after-dump',
    '  maxHoldMs: 30000',
    'backup:',
    `  dir: ${backupDir}`,
    '  compression: 1',
    '  keepRuns: 3',
    'log:',
    '  level: error',
    '',
  ].join('\n'),
);

let quietcut: ChildProcess;
let restarts = 0;
function startQuietcut(): ChildProcess {
  const c = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', '-c', cfg], { stdio: ['ignore', 'ignore', 'inherit'] });
  c.on('exit', (code, sig) => {
    if (c === quietcut && !stopping) console.log(`quietcut exited unexpectedly: code ${code} signal ${sig}`);
  });
  return c;
}
async function listening(): Promise<void> {
  for (;;) {
    const c = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/${DB}` });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.end();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
let stopping = false;
quietcut = startQuietcut();
await listening();

const url = (): string => `postgres://postgres@127.0.0.1:${port}/${DB}`;
const ws = Array.from({ length: writers }, (_, i) => new FaultWriter(url, 's', () => (i + Math.floor(Math.random() * 4)) % 4).start());

function rssMb(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : NaN;
  } catch {
    return NaN;
  }
}
function fds(pid: number | undefined): number {
  try {
    return pid ? readdirSync(`/proc/${pid}/fd`).length : NaN;
  } catch {
    return NaN;
  }
}
async function runCounts(): Promise<Record<string, number>> {
  try {
    const { rows } = await q<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM quietcut.runs GROUP BY status');
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  } catch {
    return {};
  }
}
/** One query on a connection of its own that survives a PostgreSQL restart (the error rejects, never crashes). */
async function q<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<T>> {
  const c = new pg.Client({ connectionString: cluster.url(DB) });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await c.query<T>(sql, params);
  } finally {
    await c.end().catch(() => undefined);
  }
}
const dumps = (): Array<{ pid: number; args: string }> => processesMentioning(backupDir).filter((p) => p.args.includes('pg_dump'));

// A window every few seconds: a request row, as `quietcut backup` writes it.
let windows = 0;
const windowTimer = setInterval(() => {
  const p = `public.s_${Math.floor(Math.random() * 4)}`;
  void q('INSERT INTO quietcut.backup_requests (partitions) VALUES ($1)', [[p]])
    .then(() => windows++)
    .then(() => q('NOTIFY quietcut_backup'))
    .catch(() => undefined); // PostgreSQL may be restarting
}, windowEveryMs);

const faults = ['kill quietcut (-9) and restart', 'restart PostgreSQL (fast)', 'kill pg_dump (-9)'] as const;
let faultNo = 0;
async function injectFault(): Promise<string> {
  const f = faults[faultNo++ % faults.length]!;
  if (f.startsWith('restart')) await cluster.restart('fast');
  else if (f.startsWith('kill pg_dump')) {
    // Wait (bounded) for a dump to be running, so the kill lands inside a window.
    const deadline = Date.now() + 20_000;
    while (dumps().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const d of dumps()) process.kill(d.pid, 'SIGKILL');
  } else {
    const deadline = Date.now() + 20_000;
    while (dumps().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const old = quietcut;
    const exited = new Promise((r) => old.once('exit', r));
    old.kill('SIGKILL');
    await exited;
    restarts++;
    quietcut = startQuietcut();
    await listening();
  }
  return f;
}

const t0 = Date.now();
const samples: Array<{ t: number; rss: number; fds: number }> = [];
console.log(`soak: ${minutes} min, ${writers} writers, a window every ${windowEveryMs / 1000} s, a fault every ${faultEveryMs / 1000} s`);
console.log('   t  acked   errs  windows  good failed aborted running  rss MB  fds  dumps  event');
let event = '';
const report = async (): Promise<void> => {
  const t = Math.round((Date.now() - t0) / 1000);
  const acked = ws.reduce((s, w) => s + w.acked.size, 0);
  const errs = ws.reduce((s, w) => s + w.errors, 0);
  const r = await runCounts();
  const sample = { t, rss: rssMb(quietcut.pid), fds: fds(quietcut.pid) };
  samples.push(sample);
  console.log(
    `${String(t).padStart(4)} ${String(acked).padStart(6)} ${String(errs).padStart(6)} ${String(windows).padStart(8)} ${String(r.good ?? 0).padStart(5)} ${String(r.failed ?? 0).padStart(6)} ${String(r.aborted ?? 0).padStart(7)} ${String(r.running ?? 0).padStart(7)} ${String(sample.rss).padStart(7)} ${String(sample.fds).padStart(4)} ${String(dumps().length).padStart(6)}  ${event}`,
  );
  event = '';
};
const reportTimer = setInterval(() => void report(), 10_000);
let nextFault = t0 + faultEveryMs;
while (Date.now() < t0 + minutes * 60_000) {
  if (Date.now() >= nextFault) {
    event = `fault: ${await injectFault().catch((err: unknown) => `failed to inject: ${(err as Error).message}`)}`;
    nextFault += faultEveryMs;
  }
  await new Promise((r) => setTimeout(r, 250));
}
clearInterval(windowTimer);
clearInterval(reportTimer);

// Settle: writers stop, every request ends, quietcut stops cleanly.
for (const w of ws) await w.stop();
const settleDeadline = Date.now() + 90_000;
let open = -1;
while (Date.now() < settleDeadline) {
  const { rows } = await q<{ n: number }>("SELECT (SELECT count(*) FROM quietcut.backup_requests WHERE done_at IS NULL) + (SELECT count(*) FROM quietcut.runs WHERE status = 'running') AS n").catch(() => ({ rows: [{ n: -1 }] }));
  open = Number(rows[0]!.n);
  if (open === 0) break;
  // (-1: the database did not answer this time)
  await new Promise((r) => setTimeout(r, 500));
}
await report();
stopping = true;
const exited = new Promise<number | null>((r) => quietcut.once('exit', (code) => r(code)));
quietcut.kill('SIGTERM');
const exitCode = await exited;

const acked = new Set<number>();
for (const w of ws) for (const id of w.acked) acked.add(id);
const { lost, duplicated } = await lostAndDuplicated((sql, params) => q(sql, params), 's', acked);
const runs = await runCounts();
const partials = readdirSync(backupDir, { recursive: true }).filter((f) => String(f).endsWith('.partial')).length;
const left = processesMentioning(dir);
const base = samples.filter((s) => s.t <= 60);
const after = samples.filter((s) => s.t > 60);
const max = (xs: number[]): number => Math.max(...xs.filter((x) => Number.isFinite(x)));
console.log('');
console.log(`acknowledged ${acked.size}, lost ${lost.length}, duplicated ${duplicated.length}`);
console.log(`windows asked ${windows}; runs good ${runs.good ?? 0}, failed ${runs.failed ?? 0}, aborted ${runs.aborted ?? 0}, still running ${runs.running ?? 0}; requests or runs open after settling: ${open}`);
console.log(`faults injected ${faultNo} (quietcut restarts ${restarts}); .partial files left ${partials}; processes left ${left.length}; quietcut exit on SIGTERM ${exitCode}`);
console.log(`quietcut RSS MB: baseline (first minute) max ${max(base.map((s) => s.rss))}, after max ${after.length ? max(after.map((s) => s.rss)) : '-'}; fds: baseline max ${max(base.map((s) => s.fds))}, after max ${after.length ? max(after.map((s) => s.fds)) : '-'}`);
await cluster.stop();
process.exit(lost.length || duplicated.length || open || left.length ? 1 : 0);
