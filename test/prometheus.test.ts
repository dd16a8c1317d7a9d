/**
 * A real Prometheus (the Debian package) scrapes a running quietcut node with the repository's own
 * scrape config and rules while writes and one window happen; the values it stored must be the
 * window's own counts. This is the end-to-end check that the names, labels and types a dashboard
 * or alert reads are what the node actually exports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import pg from 'pg';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { loadConfig } from '../src/config/load.js';
import { runNode, type RunningNode } from '../src/cli/run-node.js';
import { freePort, type LocalCluster } from '../src/localdb/cluster.js';
import { silentLogger } from '../src/util/log.js';
import { startTestCluster } from './helpers/pg.js';

const PROMETHEUS = '/usr/bin/prometheus';
const PARTITION = 'public.orders_eu';

let cluster: LocalCluster;
let node: RunningNode;
let prom: ChildProcess | null = null;
let promUrl = '';
const tmp = mkdtempSync(join(tmpdir(), 'qc-prom-'));

/** The repository's scrape config and rules, pointed at this node and scraping every second. */
function writePromConfig(metricsPort: number): string {
  const cfg = parseYaml(readFileSync('config/prometheus.yml', 'utf8')) as {
    global: Record<string, unknown>;
    scrape_configs: Array<{ static_configs: Array<{ targets: string[] }> }>;
  };
  cfg.global.scrape_interval = '1s';
  cfg.global.evaluation_interval = '1s';
  cfg.scrape_configs[0]!.static_configs = [{ targets: [`127.0.0.1:${metricsPort}`] }];
  // rule_files are relative to the config file: keep the rules next to the copy so they load too.
  copyFileSync('config/quietcut-rules.yml', join(tmp, 'quietcut-rules.yml'));
  const file = join(tmp, 'prometheus.yml');
  writeFileSync(file, stringifyYaml(cfg));
  return file;
}

async function startPrometheus(configFile: string): Promise<void> {
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  let log = '';
  prom = spawn(PROMETHEUS, [`--config.file=${configFile}`, `--storage.tsdb.path=${join(tmp, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  prom.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (prom.exitCode !== null) throw new Error(`prometheus exited ${prom.exitCode}: ${log}`);
    const ready = await fetch(`${promUrl}/-/ready`).then((r) => r.ok, () => false);
    if (ready) return;
    await sleep(200);
  }
  throw new Error(`prometheus not ready after 20 s: ${log}`);
}

/** One instant-vector value, or null while the series does not exist yet. */
async function promValue(query: string): Promise<number | null> {
  const r = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await r.json()) as { status: string; data: { result: Array<{ value: [number, string] }> } };
  expect(body.status).toBe('success');
  const v = body.data.result[0]?.value[1];
  return v === undefined ? null : Number(v);
}

/** Poll until Prometheus has scraped the value we expect (or give up and return what it has). */
async function waitForValue(query: string, expected: number, timeoutMs = 10_000): Promise<number | null> {
  const deadline = Date.now() + timeoutMs;
  let v = await promValue(query);
  while (v !== expected && Date.now() < deadline) {
    await sleep(250);
    v = await promValue(query);
  }
  return v;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  cluster = await startTestCluster();
  // Enough rows that the after-dump window lasts long enough for every writer to be held once.
  await cluster.query("insert into orders (region, amount) select 'eu', g from generate_series(1, 50000) g", [], 'demo');
  node = await runNode(
    loadConfig({
      env: {},
      overrides: { upstream: { url: cluster.url('demo') }, listen: '127.0.0.1:0', metrics: { listen: '127.0.0.1:0' }, backup: { dir: join(tmp, 'backups') } },
    }),
    silentLogger,
  );
  await startPrometheus(writePromConfig(node.metricsPort!));
});

afterAll(async () => {
  if (prom && prom.exitCode === null) {
    const exited = new Promise((r) => prom!.once('exit', r));
    prom.kill('SIGTERM');
    await exited;
  }
  await node?.stop();
  await cluster?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('Prometheus scraping a running node', () => {
  test('stores the held writes and hold latencies of a window with the window’s own counts', async () => {
    const { host, port } = node.proxy.address;
    const url = `postgres://postgres@${host}:${port}/demo`;
    let stop = false;
    // Four sessions writing orders_eu through the proxy, one insert at a time each.
    const writers = Array.from({ length: 4 }, async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      let n = 0;
      while (!stop) {
        await c.query('insert into orders (region, amount) values ($1, $2)', ['eu', n++]);
      }
      await c.end();
      return n;
    });
    await sleep(1500); // let Prometheus see the writes before the window
    const result = await node.backup([PARTITION], { release: 'after-dump' });
    await sleep(300);
    stop = true;
    const written = (await Promise.all(writers)).reduce((a, b) => a + b, 0);

    expect(result.status).toBe('good');
    const held = result.partitions[0]!.held;
    expect(held).toBeGreaterThan(0);
    expect(existsSync(join(result.runDir, `${PARTITION}.dump`))).toBe(true);

    const sel = `{partition="${PARTITION}"}`;
    expect(await waitForValue(`quietcut_held_writes_total${sel}`, held)).toBe(held);
    expect(await waitForValue(`quietcut_hold_seconds_count${sel}`, held)).toBe(held);
    expect(await waitForValue(`quietcut_writes_total${sel}`, written)).toBe(written);
    expect(await promValue(`quietcut_backup_last_success_timestamp_seconds${sel}`)).toBeGreaterThan(0);
    // The target is healthy, and the rules loaded from the repository's file without error.
    expect(await promValue('up{job="quietcut"}')).toBe(1);
    const rules = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: Array<{ health: string; name: string }> }> } };
    const all = rules.data.groups.flatMap((g) => g.rules);
    expect(all.length).toBeGreaterThan(0);
    expect(all.filter((r) => r.health === 'err').map((r) => r.name)).toEqual([]);
  });
});
