/**
 * Planning end to end against real PostgreSQL, with time compressed: a day of recorded per-minute
 * history is laid out one recorded minute per real second, so the quiet minute it contains becomes
 * a quiet second a few seconds from now. The node plans, stores the plan, arms it and runs the
 * window at its planned time.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../src/config/load.js';
import { runNode, type RunningNode } from '../src/cli/run-node.js';
import type { LocalCluster } from '../src/localdb/cluster.js';
import { silentLogger } from '../src/util/log.js';
import { startTestCluster } from './helpers/pg.js';

const run = promisify(execFile);
const MIN = 60_000;
const DAY = 86_400_000;
const hhmm = (ms: number): string => new Date(ms).toISOString().slice(11, 16);

let cluster: LocalCluster;
let node: RunningNode;
let dir: string;
/** An interval three hours ahead, for planning on start and for `quietcut plan`. */
let configInterval: string;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function q<T extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
  return (await cluster.query<T>(sql, params, 'demo')).rows;
}

/** A day of per-minute history ending at endMs: `loud` writes a minute except at the quiet minutes. */
async function seed(partition: string, endMs: number, loud: number, quiet: readonly number[] = []): Promise<void> {
  await q(
    `INSERT INTO quietcut.write_minutes (partition, minute, node, statements, rows)
     SELECT $1, to_timestamp(($2::float8 + g * 60000) / 1000), 'seed', s, s
       FROM (SELECT g, CASE WHEN g = ANY($4::int[]) THEN 1 ELSE $3 END AS s FROM generate_series(0, 1439) g) t`,
    [partition, endMs - DAY, loud, quiet],
  );
}

beforeAll(async () => {
  cluster = await startTestCluster();
  dir = mkdtempSync(join(tmpdir(), 'qc-planning-'));
  await cluster.query(
    `CREATE SCHEMA plan_t;
     CREATE TABLE plan_t.m (id bigint, p int NOT NULL) PARTITION BY LIST (p);
     CREATE TABLE plan_t.hot PARTITION OF plan_t.m FOR VALUES IN (0);
     CREATE TABLE plan_t.tight PARTITION OF plan_t.m FOR VALUES IN (1);
     CREATE TABLE plan_t.idle PARTITION OF plan_t.m FOR VALUES IN (2);
     INSERT INTO plan_t.m SELECT g, g % 3 FROM generate_series(1, 3000) g;`,
    [],
    'demo',
  );
  const start = Date.now() + 3 * 3_600_000;
  configInterval = `${hhmm(start)}-${hhmm(start + 3_600_000)}`;
  const config = loadConfig({
    env: {},
    overrides: {
      upstream: { url: cluster.url('demo') },
      listen: '127.0.0.1:0',
      metrics: { listen: null },
      stats: { enabled: false },
      catalog: { schemas: ['plan_t'] },
      forecast: { stepMinutes: 1 },
      windows: { partitions: { 'plan_t.tight': { maxHoldMs: 1 } } },
      // planAt far away: the next interval's planning time has "passed", so the node plans on start.
      backup: { dir, compression: 1, planAt: '0 0 1 1 *', interval: configInterval, timezone: 'UTC' },
    },
  });
  node = await runNode(config, silentLogger);
});

afterAll(async () => {
  await node?.stop();
  await cluster?.stop();
});

describe('planning', () => {
  test('a node started after planning time plans the next interval on start and arms it', async () => {
    await node.scheduler.ready;
    const plans = await q<{ plan_id: string; s: Date }>('SELECT plan_id::text, interval_start AS s FROM quietcut.plans');
    expect(plans).toHaveLength(1);
    expect(hhmm((plans[0] as { s: Date }).s.getTime())).toBe(configInterval.slice(0, 5));
    expect(node.scheduler.armedPlans()).toContain((plans[0] as { plan_id: string }).plan_id);
  });

  test('plan stored with the window in the quiet part, infeasible and skipped partitions listed; the window runs at its planned time', async () => {
    // idle: backed up now and never written since, so the plan skips it.
    const first = await node.backup(['plan_t.idle']);
    expect(first.status).toBe('good');

    const nowMs = Date.now();
    const historyEnd = Math.floor(nowMs / MIN) * MIN;
    // Compressed: forecast step k (recorded minute k of yesterday's day) is real second historyEnd + k s.
    const k0 = Math.ceil((nowMs + 4_000 - historyEnd) / 1000);
    const quiet = [k0 + 8, k0 + 9, k0 + 10];
    await seed('plan_t.hot', historyEnd, 600, quiet);
    await seed('plan_t.tight', historyEnd, 100);
    const interval = { startMs: historyEnd + k0 * 1000, endMs: historyEnd + (k0 + 14) * 1000 };

    const res = await node.scheduler.planNow({ interval, nowMs, timeScale: 1 / 60 });
    expect(res.acquired && !res.reused).toBe(true);
    if (!res.acquired || res.reused) return;
    const quietFrom = historyEnd + (k0 + 8) * 1000;
    const quietTo = historyEnd + (k0 + 11) * 1000;

    const rows = await q<{ partition: string; status: string; reason: string | null; ws: Date | null; held: number | null }>(
      'SELECT partition, status, reason, window_start AS ws, predicted_held AS held FROM quietcut.plan_windows WHERE plan_id = $1 ORDER BY partition',
      [res.planId],
    );
    const by = new Map(rows.map((r) => [r.partition, r]));
    const hot = by.get('plan_t.hot');
    expect(hot?.status).toBe('armed');
    expect(hot?.ws?.getTime()).toBeGreaterThanOrEqual(quietFrom);
    expect(hot?.ws?.getTime()).toBeLessThan(quietTo);
    expect(hot?.held).toBeLessThan(1);
    expect(by.get('plan_t.tight')).toMatchObject({ status: 'infeasible', ws: null });
    expect(by.get('plan_t.tight')?.reason).toMatch(/maxHoldMs 1 ms/);
    expect(by.get('plan_t.idle')).toMatchObject({ status: 'skipped' });
    expect(by.get('plan_t.idle')?.reason).toMatch(/no writes since the last good backup/);
    expect((await node.metrics.planInfeasible.get()).values[0]?.value).toBe(1);
    const plannedHeld = (await node.metrics.plannedHeldWrites.get()).values.find((v) => v.labels.partition === 'plan_t.hot');
    expect(plannedHeld?.value).toBeCloseTo(hot?.held ?? -1);

    // Armed by the node's clock: wait for the window to have run.
    let status = 'armed';
    for (let i = 0; i < 100 && status !== 'done' && status !== 'failed'; i++) {
      await sleep(300);
      status = (await q<{ status: string }>("SELECT status FROM quietcut.plan_windows WHERE plan_id = $1 AND partition = 'plan_t.hot'", [res.planId]))[0]?.status ?? '';
    }
    expect(status).toBe('done');
    const ran = await q<{ trigger: string; status: string; ws: Date }>(
      `SELECT r.trigger, rp.status, rp.window_start AS ws FROM quietcut.runs r JOIN quietcut.run_partitions rp USING (run_id)
        WHERE rp.partition = 'plan_t.hot'`,
    );
    expect(ran).toHaveLength(1);
    expect(ran[0]).toMatchObject({ trigger: 'plan', status: 'good' });
    // It started at its planned time (by this node's clock), not before, and not much later.
    expect(ran[0]?.ws.getTime()).toBeGreaterThanOrEqual((hot?.ws?.getTime() ?? 0) - 5);
    expect(ran[0]?.ws.getTime()).toBeLessThan((hot?.ws?.getTime() ?? 0) + 1_500);
    const done = await q<{ run_id: string | null; actual_writes: string | null }>("SELECT run_id, actual_writes::text FROM quietcut.plan_windows WHERE plan_id = $1 AND partition = 'plan_t.hot'", [res.planId]);
    expect(done[0]?.run_id).toBeTruthy();
    expect(done[0]?.actual_writes).toBe('0');
    // Nothing was written through the proxy in the window, against a small predicted number.
    const ratio = (await node.metrics.forecastErrorRatio.get()).values.find((v) => v.labels.partition === 'plan_t.hot');
    expect(ratio?.value).toBe(0);
    // Infeasible and skipped partitions were not backed up by the plan.
    expect(await q("SELECT 1 FROM quietcut.run_partitions rp JOIN quietcut.runs r USING (run_id) WHERE r.trigger = 'plan' AND rp.partition <> 'plan_t.hot'")).toHaveLength(0);
  });

  test('planning again for a stored interval reuses the stored plan (every node arms the same one)', async () => {
    const stored = await q<{ s: Date; e: Date }>('SELECT interval_start AS s, interval_end AS e FROM quietcut.plans ORDER BY plan_id LIMIT 1');
    const res = await node.scheduler.planNow({ interval: { startMs: stored[0]!.s.getTime(), endMs: stored[0]!.e.getTime() } });
    expect(res).toMatchObject({ acquired: true, reused: true });
  });

  test('quietcut plan --json prints the plan for the next interval; --html writes the picture', async () => {
    const file = join(dir, 'quietcut.yaml');
    writeFileSync(
      file,
      [
        `upstream:\n  url: ${cluster.url('demo')}`,
        `catalog:\n  schemas: [plan_t]`,
        `forecast:\n  stepMinutes: 1`,
        `windows:\n  partitions:\n    plan_t.tight:\n      maxHoldMs: 1`,
        `backup:\n  interval: "${configInterval}"\n  skipUnchanged: false`,
      ].join('\n'),
    );
    const html = join(dir, 'plan.html');
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'plan', '--config', file, '--json', '--html', html], { env: { ...process.env, QUIETCUT_LOG_LEVEL: 'silent' } });
    const out = JSON.parse(stdout) as { interval: { start: string }; storedPlanId: string | null; windows: { partition: string }[]; infeasible: { partition: string; reason: string }[]; models: Record<string, string> };
    expect(hhmm(Date.parse(out.interval.start))).toBe(configInterval.slice(0, 5));
    expect(out.storedPlanId).not.toBeNull();
    expect(out.windows.map((w) => w.partition)).toContain('plan_t.hot');
    expect(out.infeasible.map((i) => i.partition)).toEqual(['plan_t.tight']);
    expect(out.models['plan_t.hot']).toBe('seasonal-naive');
    const page = readFileSync(html, 'utf8');
    expect(page).toMatch(/<svg/);
    expect(page).toContain('plan_t.hot');
  });
});
