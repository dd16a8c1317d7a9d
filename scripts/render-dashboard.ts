/**
 * Renders docs/dashboard.png from the provisioned Grafana dashboard (deploy/grafana/dashboards/
 * quietcut.json): runs the demo (`quietcut start` with no upstream: private PostgreSQL, demo load,
 * planned windows), scrapes it with a private Prometheus using the repository's own rules, asks
 * Prometheus every panel's queries over the run, draws the panels (scripts/dashboard/render-html.ts)
 * and screenshots the page with headless Chromium.
 *
 *   npx tsx scripts/render-dashboard.ts [--minutes 8] [--out docs/dashboard.png]
 *
 * Needs `prometheus` and `chromium` (Debian: apt-get install prometheus chromium). A tool, not a
 * test: it waits for the demo to run, which takes minutes by design.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from './gen-docs.js';
import { DASHBOARD_WIDTH_PX, dashboardHeightPx, renderDashboardHtml, type Panel, type PanelData } from './dashboard/render-html.js';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '8' }, out: { type: 'string', default: 'docs/dashboard.png' }, 'day-ms': { type: 'string', default: '120000' } } });
const minutes = Number(values.minutes);
if (!(minutes > 0)) throw new Error('--minutes must be a positive number');

const freePort = (): Promise<number> =>
  new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? ok(a.port) : fail(new Error('no port'))));
    });
  });

function need(cmd: string): void {
  if (spawnSync('sh', ['-c', 'command -v "$0"', cmd]).status !== 0) {
    console.error(`render-dashboard: ${cmd} is not installed (Debian: apt-get install ${cmd})`);
    process.exit(2);
  }
}

async function waitHttp(url: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > until) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await sleep(250);
  }
}

/** Grafana's variables, as the dashboard is shown by default: every partition. */
const expand = (expr: string): string => expr.replace(/\$partition/g, '.*').replace(/\$__rate_interval/g, '1m');

const legendOf = (format: string | undefined, metric: Record<string, string>): string =>
  format ? format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, k: string) => metric[k] ?? '') : Object.values(metric).join(' ') || 'value';

async function queryRange(prom: string, expr: string, start: number, end: number, step: number): Promise<{ metric: Record<string, string>; values: [number, string][] }[]> {
  const q = new URLSearchParams({ query: expr, start: String(start), end: String(end), step: String(step) });
  const r = (await (await fetch(`${prom}/api/v1/query_range?${q}`)).json()) as { status: string; error?: string; data?: { result: { metric: Record<string, string>; values: [number, string][] }[] } };
  if (r.status !== 'success') throw new Error(`Prometheus refused ${expr}: ${r.error}`);
  return r.data!.result;
}

async function main(): Promise<void> {
  need('prometheus');
  need('chromium');
  const dir = mkdtempSync(join(tmpdir(), 'qc-dashboard-'));
  const children: ChildProcess[] = [];
  const stopAll = (): void => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  };
  // The demo stops its private PostgreSQL on SIGTERM; the folder goes only after both have exited.
  const exited = (): Promise<unknown> => Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? null : new Promise((ok) => c.once('exit', ok)))));
  process.on('SIGINT', () => {
    stopAll();
    process.exit(130);
  });
  try {
    const metricsPort = await freePort();
    const promPort = await freePort();
    const node = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', '--listen', '127.0.0.1:0', '--metrics', `127.0.0.1:${metricsPort}`], {
      cwd: repoRoot,
      env: { ...process.env, QUIETCUT_DEMO__DAY_MS: values['day-ms'], QUIETCUT_BACKUP__DIR: join(dir, 'backups'), QUIETCUT_STATE_FILE: join(dir, 'state.json'), QUIETCUT_LOG__PRETTY: 'false', QUIETCUT_LOG__LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(node);
    await waitHttp(`http://127.0.0.1:${metricsPort}/healthz`, 120_000);
    const promConfig = join(dir, 'prometheus.yml');
    writeFileSync(
      promConfig,
      `global: { scrape_interval: 2s, evaluation_interval: 2s }\nrule_files: [${JSON.stringify(join(repoRoot, 'config', 'quietcut-rules.yml'))}]\nscrape_configs:\n  - job_name: quietcut\n    static_configs: [{ targets: ['127.0.0.1:${metricsPort}'] }]\n`,
    );
    const prom = spawn('prometheus', [`--config.file=${promConfig}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' });
    children.push(prom);
    const promUrl = `http://127.0.0.1:${promPort}`;
    await waitHttp(`${promUrl}/-/ready`, 60_000);
    const start = Math.floor(Date.now() / 1000);
    console.log(`demo and Prometheus running; collecting for ${minutes} min…`);
    await sleep(minutes * 60_000);
    const end = Math.floor(Date.now() / 1000);
    const step = Math.max(2, Math.round((end - start) / 240));

    const dashboard = JSON.parse(readFileSync(join(repoRoot, 'deploy/grafana/dashboards/quietcut.json'), 'utf8')) as { title: string; panels: Panel[] };
    const data: PanelData[] = [];
    for (const panel of dashboard.panels) {
      const series = [];
      for (const t of panel.targets ?? []) {
        for (const r of await queryRange(promUrl, expand(t.expr), start, end, step)) {
          series.push({ legend: legendOf(t.legendFormat, r.metric), samples: r.values.map(([ts, v]): [number, number] => [ts, Number(v)]).filter(([, v]) => Number.isFinite(v)) });
        }
      }
      data.push({ panel, series });
      if (panel.type !== 'row') console.log(`${series.length.toString().padStart(3)} series  ${panel.title}`);
    }
    stopAll();
    const html = join(dir, 'dashboard.html');
    writeFileSync(html, renderDashboardHtml(dashboard.title, data, [start, end]));
    const out = resolve(repoRoot, values.out);
    mkdirSync(resolve(out, '..'), { recursive: true });
    const shot = spawnSync(
      'chromium',
      ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--window-size=${DASHBOARD_WIDTH_PX},${dashboardHeightPx(dashboard.panels) + 46}`, `--screenshot=${out}`, `file://${html}`],
      { encoding: 'utf8' },
    );
    if (shot.status !== 0) throw new Error(`chromium failed: ${shot.stderr}`);
    console.log(`wrote ${out}`);
  } finally {
    stopAll();
    await exited();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`render-dashboard: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
