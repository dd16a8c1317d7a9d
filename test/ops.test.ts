/**
 * The operations files (Prometheus config and rules, docker-compose, Grafana provisioning and
 * dashboard, generated docs) checked against each other and against the code, so that none of them
 * can name a metric, a path, a port or an option that does not exist. No Docker engine runs here:
 * what the engine would reject is checked statically, and by `docker compose config` where a
 * Compose client is installed.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { configSchema } from '../src/config/schema.js';
import { envOverrides, loadConfig } from '../src/config/load.js';
import { Metrics } from '../src/metrics/registry.js';
import { LocalCluster } from '../src/localdb/cluster.js';
import { renderDashboardHtml, type Panel } from '../scripts/dashboard/render-html.js';
import { configSections, generatedFiles, renderExampleYaml, examplePath, repoRoot } from '../scripts/gen-docs.js';

const root = repoRoot;
const file = (p: string): string => join(root, p);
const readText = (p: string): string => readFileSync(file(p), 'utf8');
const readYaml = <T>(p: string): T => parseYaml(readText(p)) as T;

// --- the shapes of the files read here, as far as the checks need them

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string };
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  command?: string[];
}
interface Compose {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}
interface PromConfig {
  global: Record<string, unknown>;
  rule_files: string[];
  scrape_configs: Array<{ job_name: string; metrics_path?: string; static_configs: Array<{ targets: string[] }> }>;
}
interface RuleFile {
  groups: Array<{ name: string; rules: Array<{ record?: string; alert?: string; expr: string }> }>;
}
interface DashboardTarget {
  expr: string;
  refId: string;
  datasource?: { uid: string };
}
interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { uid: string };
  targets?: DashboardTarget[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: DashboardPanel[];
  annotations: { list: Array<{ name: string; expr?: string; datasource: { uid: string }; builtIn?: number }> };
  templating: { list: Array<{ name: string; query: { query: string }; datasource: { uid: string } }> };
}

interface Mount {
  source: string;
  target: string;
  bind: boolean;
}

/** Short-syntax volume entries (`src:target[:mode]`); a source starting with . or / is a bind mount. */
function mounts(service: ComposeService): Mount[] {
  return (service.volumes ?? []).map((v) => {
    const [source = '', target = ''] = v.split(':');
    return { source, target, bind: source.startsWith('.') || source.startsWith('/') };
  });
}

/** Where a path inside a container comes from in the repository, through the service's bind mounts. */
function hostPathOf(service: ComposeService, containerPath: string): string | null {
  for (const m of mounts(service).filter((x) => x.bind)) {
    if (containerPath === m.target) return file(m.source);
    if (containerPath.startsWith(`${m.target}/`)) return join(file(m.source), containerPath.slice(m.target.length + 1));
  }
  return null;
}

/** Container ports a service publishes (`[host_ip:]host:container`). */
function publishedContainerPorts(service: ComposeService): number[] {
  return (service.ports ?? []).map((p) => Number(p.split(':').at(-1)));
}

function hostPort(hp: string): { host: string; port: number } {
  const i = hp.lastIndexOf(':');
  return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) };
}

// --- metric names

/** Every series name a quietcut node exports: histograms count with their _bucket/_sum/_count. */
function exportedSeriesNames(): Set<string> {
  const names = new Set<string>();
  for (const m of new Metrics().registry.getMetricsAsArray()) {
    names.add(m.name);
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
  }
  return names;
}

const PROMQL_KEYWORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'Inf', 'NaN', 'inf', 'nan']);

/**
 * Series names a PromQL expression selects: identifiers that are not functions, keywords, label
 * names (inside braces or grouping lists), strings or durations.
 */
function seriesNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names: string[] = [];
  for (const m of stripped.matchAll(/(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const after = stripped.slice(m.index + m[0].length);
    if (/^\s*\(/.test(after) || PROMQL_KEYWORDS.has(m[0])) continue;
    names.push(m[0]);
  }
  return names;
}

/** Grafana's variables replaced by values Prometheus accepts, so promtool can parse the query. */
function grafanaToPromql(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$__interval', '1m').replaceAll('$partition', '.*');
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): { code: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd: opts.cwd ?? root, env: opts.env ?? process.env, encoding: 'utf8', timeout: 60_000 });
  if (r.error) return { code: null, out: String(r.error) };
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const compose = readYaml<Compose>('docker-compose.yml');
const rules = readYaml<RuleFile>('config/quietcut-rules.yml');
const recordingRules = new Set(rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.record ? [r.record] : []))));
const dashboard = JSON.parse(readText('deploy/grafana/dashboards/quietcut.json')) as Dashboard;

function unknownSeries(exprs: string[]): string[] {
  const exported = exportedSeriesNames();
  const unknown = new Set<string>();
  for (const e of exprs) {
    for (const n of seriesNamesIn(e)) {
      // `up` is Prometheus's own per-target series.
      if (!exported.has(n) && !recordingRules.has(n) && n !== 'up') unknown.add(n);
    }
  }
  return [...unknown];
}

let scratch = '';
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'quietcut-ops-'));
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe('PromQL name extraction', () => {
  it('finds series names, not functions, labels, keywords or durations', () => {
    expect(seriesNamesIn('sum by (partition, le) (rate(quietcut_hold_seconds_bucket{partition=~"a_b"}[5m])) > on (x) group_left() foo:bar offset 5m')).toEqual([
      'quietcut_hold_seconds_bucket',
      'foo:bar',
    ]);
    expect(seriesNamesIn('time() - max by (partition) (x_seconds) > 30 * 3600 and up == 0')).toEqual(['x_seconds', 'up']);
    expect(seriesNamesIn('count_over_time((a_rows > 0)[15m:1m]) >= 3 or label_replace(b, "reason", "unknown", "", "")')).toEqual(['a_rows', 'b']);
  });
});

describe('Prometheus', () => {
  it('promtool accepts the scrape config, the rules, and the rules pass their unit tests', () => {
    for (const args of [
      ['check', 'config', 'config/prometheus.yml'],
      ['check', 'rules', 'config/quietcut-rules.yml'],
      ['test', 'rules', 'test/ops/quietcut-rules.test.yml'],
    ]) {
      const r = run('promtool', args);
      expect(r.code, `promtool ${args.join(' ')}\n${r.out}`).toBe(0);
    }
  });

  it('the rules use only metrics quietcut exports, and every alert has a severity and a summary', () => {
    expect(unknownSeries(rules.groups.flatMap((g) => g.rules.map((r) => r.expr)))).toEqual([]);
    for (const r of rules.groups.flatMap((g) => g.rules)) {
      if (!r.alert) continue;
      const alert = r as { labels?: Record<string, string>; annotations?: Record<string, string> };
      expect(['critical', 'warning', 'info'], r.alert).toContain(alert.labels?.severity);
      expect(alert.annotations?.summary, r.alert).toBeTruthy();
    }
    // The alerts the issue asks for, by the metric each one watches.
    const alertExprs = rules.groups.flatMap((g) => g.rules.filter((r) => r.alert).map((r) => r.expr)).join('\n');
    const watched = new Set(seriesNamesIn(alertExprs).concat(rules.groups.flatMap((g) => g.rules).filter((r) => r.record && alertExprs.includes(r.record)).flatMap((r) => seriesNamesIn(r.expr))));
    for (const m of ['quietcut_backup_last_success_timestamp_seconds', 'quietcut_windows_aborted_total', 'quietcut_hold_seconds_bucket', 'quietcut_bypass_rows', 'quietcut_hold_queue_depth']) {
      expect(watched, m).toContain(m);
    }
  });

  it('scrapes quietcut at its default metrics address, and the compose copy differs only in the target', () => {
    const local = readYaml<PromConfig>('config/prometheus.yml');
    const docker = readYaml<PromConfig>('deploy/prometheus/prometheus.yml');
    expect(local.scrape_configs[0]?.static_configs[0]?.targets).toEqual([configSchema.parse({}).metrics.listen]);
    const withoutTargets = (c: PromConfig): unknown => ({ ...c, scrape_configs: c.scrape_configs.map((s) => ({ ...s, static_configs: [] })) });
    expect(withoutTargets(docker)).toEqual(withoutTargets(local));
  });
});

describe('docker-compose', () => {
  const services = compose.services;

  it('has the four services, each with a health check', () => {
    expect(Object.keys(services).sort()).toEqual(['grafana', 'postgres', 'prometheus', 'quietcut']);
    for (const [name, s] of Object.entries(services)) expect(s.healthcheck?.test.length, name).toBeGreaterThan(0);
    expect(services.postgres?.image).toBe('postgres:15');
    for (const [name, s] of Object.entries(services)) {
      for (const dep of Object.keys(s.depends_on ?? {})) expect(Object.keys(services), `${name} depends on ${dep}`).toContain(dep);
    }
  });

  it('every bind-mounted path exists, every named volume is declared and used', () => {
    const declared = new Set(Object.keys(compose.volumes ?? {}));
    const used = new Set<string>();
    for (const [name, s] of Object.entries(services)) {
      for (const m of mounts(s)) {
        expect(m.target.startsWith('/'), `${name}: ${m.target}`).toBe(true);
        if (m.bind) expect(existsSync(file(m.source)), `${name}: ${m.source}`).toBe(true);
        else {
          expect(declared, `${name}: volume ${m.source}`).toContain(m.source);
          used.add(m.source);
        }
      }
    }
    expect([...used].sort()).toEqual([...declared].sort());
  });

  it('keeps secrets out: every password is a variable, and .env.example defines every variable', () => {
    const text = readText('docker-compose.yml');
    const vars = new Set([...text.matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]));
    const example = new Set(
      readText('.env.example')
        .split('\n')
        .filter((l) => /^[A-Z0-9_]+=/.test(l))
        .map((l) => l.split('=')[0]),
    );
    for (const v of vars) expect(example, `.env.example lacks ${v}`).toContain(v);
    for (const [name, s] of Object.entries(services)) {
      for (const [k, v] of Object.entries(s.environment ?? {})) {
        if (/PASSWORD|SECRET|TOKEN/.test(k)) expect(v, `${name}.${k}`).toMatch(/^\$\{[A-Z0-9_]+:\?[^}]+\}$/);
      }
    }
    // No key or value of quietcut's own config carries a password (comments may say where it comes from).
    expect(JSON.stringify(readYaml<unknown>('deploy/quietcut.docker.yaml'))).not.toMatch(/passw|:[^@/\s"]*@/i);
  });

  it('quietcut is built from the Dockerfile with pg_dump 15, and runs the config file that is mounted', () => {
    const q = services.quietcut!;
    const dockerfile = readText(posix.join(q.build?.context ?? '.', q.build?.dockerfile ?? 'Dockerfile'));
    expect(dockerfile).toMatch(/^FROM node:20\b/m);
    expect(dockerfile).toContain('postgresql-client-15');
    expect(dockerfile).toContain('npm ci');
    expect(dockerfile).toContain('npm run build');
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)?.[1] ?? '[]') as string[];
    expect(cmd.slice(0, 3)).toEqual(['node', 'dist/cli/main.js', 'start']);
    const configPath = cmd[cmd.indexOf('--config') + 1] ?? '';
    expect(hostPathOf(q, configPath)).toBe(file('deploy/quietcut.docker.yaml'));
    // The build writes dist/cli/main.js from src/cli/main.ts.
    expect(existsSync(file('src/cli/main.ts'))).toBe(true);
    expect(readText('.dockerignore')).toMatch(/^node_modules$/m);
  });

  it("quietcut's config is valid and agrees with the services: upstream, ports, Prometheus target", () => {
    const q = services.quietcut!;
    const cfg = loadConfig({ file: file('deploy/quietcut.docker.yaml'), env: {} });
    // The upstream is the postgres service, its database, and carries no password.
    const url = new URL(cfg.upstream.url ?? '');
    expect(url.hostname).toBe('postgres');
    expect(url.port).toBe('5432');
    expect(url.password).toBe('');
    expect(url.pathname).toBe(`/${services.postgres?.environment?.POSTGRES_DB}`);
    expect(url.username).toBe(services.postgres?.environment?.POSTGRES_USER);
    // The password reaches quietcut and pg_dump through the environment.
    expect(Object.keys(q.environment ?? {})).toEqual(expect.arrayContaining(['QUIETCUT_ADMIN_PASSWORD', 'PGPASSWORD']));
    // Listening on every interface inside the container, on the ports it publishes.
    const listen = hostPort(cfg.listen);
    const metrics = hostPort(cfg.metrics.listen ?? '');
    expect(listen.host).toBe('0.0.0.0');
    expect(metrics.host).toBe('0.0.0.0');
    expect(publishedContainerPorts(q).sort()).toEqual([listen.port, metrics.port].sort());
    // The backup dir is on the named volume.
    expect(mounts(q).find((m) => !m.bind && m.target === cfg.backup.dir)).toBeTruthy();
    // Prometheus scrapes the quietcut service at its metrics port.
    const prom = readYaml<PromConfig>('deploy/prometheus/prometheus.yml');
    expect(prom.scrape_configs[0]?.static_configs[0]?.targets).toEqual([`quietcut:${metrics.port}`]);
    expect(prom.scrape_configs[0]?.metrics_path).toBe('/metrics');
    // The health check asks the metrics listener.
    expect(q.healthcheck?.test.join(' ')).toContain(`127.0.0.1:${metrics.port}/healthz`);
  });

  it("Prometheus's config, as mounted in its container, loads the rules (promtool on that layout)", () => {
    const p = services.prometheus!;
    const configFlag = (p.command ?? []).find((c) => c.startsWith('--config.file='))?.slice('--config.file='.length) ?? '';
    const configHost = hostPathOf(p, configFlag);
    expect(configHost).toBe(file('deploy/prometheus/prometheus.yml'));
    // Recreate /etc/prometheus from the bind mounts and let promtool resolve rule_files there.
    const etc = join(scratch, 'prometheus');
    for (const m of mounts(p).filter((x) => x.bind)) {
      const dest = join(etc, m.target);
      mkdirSync(dirname(dest), { recursive: true });
      cpSync(file(m.source), dest, { recursive: true });
    }
    const r = run('promtool', ['check', 'config', join(etc, configFlag)]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('1 rule files found');
    expect(publishedContainerPorts(p)).toEqual([9090]);
  });

  it('Grafana is provisioned with the Prometheus service and the dashboard that is mounted', () => {
    const g = services.grafana!;
    const dsFile = hostPathOf(g, '/etc/grafana/provisioning/datasources/prometheus.yml');
    const provider = hostPathOf(g, '/etc/grafana/provisioning/dashboards/quietcut.yml');
    expect(dsFile && existsSync(dsFile)).toBe(true);
    expect(provider && existsSync(provider)).toBe(true);
    const ds = parseYaml(readFileSync(dsFile!, 'utf8')) as { datasources: Array<{ uid: string; type: string; url: string }> };
    const [source] = ds.datasources;
    expect(source?.type).toBe('prometheus');
    const url = new URL(source?.url ?? '');
    expect(url.hostname).toBe('prometheus');
    expect(publishedContainerPorts(services.prometheus!)).toContain(Number(url.port));
    const prov = parseYaml(readFileSync(provider!, 'utf8')) as { providers: Array<{ options: { path: string } }> };
    const dashDir = hostPathOf(g, prov.providers[0]?.options.path ?? '');
    expect(dashDir).toBe(file('deploy/grafana/dashboards'));
    expect(readdirSync(dashDir!).filter((f) => f.endsWith('.json'))).toEqual(['quietcut.json']);
    const home = hostPathOf(g, g.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? '');
    expect(home).toBe(file('deploy/grafana/dashboards/quietcut.json'));
    // Every panel, query and annotation uses the provisioned datasource.
    const uids = new Set<string>();
    for (const p of dashboard.panels) {
      if (p.datasource) uids.add(p.datasource.uid);
      for (const t of p.targets ?? []) if (t.datasource) uids.add(t.datasource.uid);
    }
    for (const a of dashboard.annotations.list) if (!a.builtIn) uids.add(a.datasource.uid);
    for (const v of dashboard.templating.list) uids.add(v.datasource.uid);
    expect([...uids]).toEqual([source?.uid]);
  });

  it('postgres loads the demo schema from the init folder it mounts', () => {
    const initDir = hostPathOf(services.postgres!, '/docker-entrypoint-initdb.d');
    expect(initDir).toBe(file('deploy/postgres/init'));
    expect(readdirSync(initDir!).filter((f) => f.endsWith('.sql')).length).toBeGreaterThan(0);
  });

  // The Compose client validates without an engine; it is optional here (CI may not have one).
  const composeCli = ((): string[] | null => {
    if (run('docker', ['compose', 'version']).code === 0) return ['docker', 'compose'];
    if (run('docker-compose', ['version']).code === 0) return ['docker-compose'];
    return null;
  })();
  it.skipIf(composeCli === null)('`docker compose config` accepts the file with the variables of .env.example', () => {
    const [cmd, ...pre] = composeCli!;
    // Only .env.example may supply the variables: a developer's own .env or shell must not.
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: scratch };
    const r = run(cmd!, [...pre, '--env-file', file('.env.example'), '-f', file('docker-compose.yml'), '--project-directory', root, 'config', '-q'], { env });
    expect(r.code, r.out).toBe(0);
    // Without the variables, compose refuses rather than starting with empty passwords.
    const empty = join(scratch, 'empty.env');
    writeFileSync(empty, '');
    const bare = run(cmd!, [...pre, '--env-file', empty, '-f', file('docker-compose.yml'), '--project-directory', root, 'config', '-q'], { env });
    expect(bare.code).not.toBe(0);
    expect(bare.out).toContain('POSTGRES_PASSWORD');
  });
});

describe('Grafana dashboard', () => {
  const targets = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
  const annotationExprs = dashboard.annotations.list.flatMap((a) => (a.expr ? [a.expr] : []));
  const variableQueries = dashboard.templating.list.map((v) => v.query.query);

  it('is a dashboard with unique panel ids and no overlapping panels', () => {
    expect(dashboard.uid).toBe('quietcut-overview');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      const { x, y, w, h } = p.gridPos;
      expect(x + w, p.title).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++) {
        for (let j = y; j < y + h; j++) {
          expect(cells.has(`${i},${j}`), `${p.title} overlaps at ${i},${j}`).toBe(false);
          cells.add(`${i},${j}`);
        }
      }
    }
    expect(targets.length).toBeGreaterThan(10);
  });

  it('queries only metrics quietcut exports', () => {
    const all = [...targets.map((t) => t.expr), ...annotationExprs, ...variableQueries.map((q) => q.replace(/^label_values\((\w+),.*$/, '$1'))];
    expect(unknownSeries(all)).toEqual([]);
    const queried = new Set(all.flatMap(seriesNamesIn));
    // What the issue asks the dashboard to show.
    for (const m of ['quietcut_writes_total', 'quietcut_planned_held_writes', 'quietcut_window_state', 'quietcut_held_writes_total', 'quietcut_hold_seconds_bucket', 'quietcut_backup_last_success_timestamp_seconds', 'quietcut_backup_failures_total']) {
      expect(queried, m).toContain(m);
    }
    expect(annotationExprs.join('\n')).toContain('quietcut_window_state');
  });

  it('every query is valid PromQL and every variable it uses is defined (promtool parses them)', () => {
    const defined = new Set(['__rate_interval', '__interval', ...dashboard.templating.list.map((v) => v.name)]);
    for (const e of [...targets.map((t) => t.expr), ...annotationExprs]) {
      for (const m of e.matchAll(/\$(\w+)/g)) expect(defined, e).toContain(m[1]);
    }
    const asRules = {
      groups: [{ name: 'dashboard', rules: [...targets.map((t) => t.expr), ...annotationExprs].map((expr, i) => ({ record: `dashboard:query_${i}`, expr: grafanaToPromql(expr) })) }],
    };
    const path = join(scratch, 'dashboard-queries.yml');
    writeFileSync(path, stringifyYaml(asRules));
    const r = run('promtool', ['check', 'rules', path]);
    expect(r.code, r.out).toBe(0);
  });

  it("the README's picture is drawn from these panels: each panel's title, units on its axes, 'No data' where a query answered nothing", () => {
    // Two samples per series so every drawable panel has a line; the write-rate panel gets none.
    const data = dashboard.panels.map((panel) => ({
      panel: panel as Panel,
      series: panel.title.startsWith('Write rate') ? [] : (panel.targets ?? []).map((t, i) => ({ legend: `s${i}`, samples: [[1000, 1], [1060, 3 + i]] as [number, number][] })),
    }));
    const html = renderDashboardHtml(dashboard.title, data, [1000, 1060]);
    for (const p of dashboard.panels) expect(html, p.title).toContain(p.title.replace(/&/g, '&amp;').replace(/</g, '&lt;'));
    const drawn = dashboard.panels.filter((p) => p.type !== 'row');
    expect(html.match(/<svg /g)?.length).toBe(drawn.length);
    expect(html.match(/No data/g)?.length).toBe(1);
    expect(html).not.toContain(' wps<'); // only the write-rate panel counts in wps, and it drew nothing
    expect(html).toMatch(/>[\d.]+B\/s</); // Traffic's axis in bytes per second
    expect(html).toMatch(/>[\d.]+ s</); // seconds on the hold latency axis
  });
});

describe('init SQL for the compose postgres', () => {
  let cluster: LocalCluster;
  beforeAll(async () => {
    // demo: true creates the `demo` database from src/localdb/demo-schema.ts, the reference.
    cluster = await LocalCluster.start({ demo: true });
    await cluster.createDatabase('compose_init');
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  /** Tables, partition keys, bounds and columns of the demo tables, comparable across databases. */
  async function shape(database: string): Promise<string[]> {
    const c = new pg.Client({ connectionString: cluster.url(database) });
    await c.connect();
    try {
      const { rows } = await c.query<{ line: string }>(`
        SELECT format('%s %s key=%s bound=%s parent=%s cols=%s', c.relname, c.relkind,
                 coalesce(pg_get_partkeydef(c.oid), '-'),
                 coalesce(pg_get_expr(c.relpartbound, c.oid), '-'),
                 coalesce((SELECT p.relname FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE i.inhrelid = c.oid), '-'),
                 (SELECT string_agg(format('%s:%s:%s:%s', a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                                           coalesce(pg_get_expr(d.adbin, d.adrelid), '')), ',' ORDER BY a.attnum)
                    FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)) AS line
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
         ORDER BY c.relname`);
      // Column defaults name their own sequences; sequence names are the same in both databases.
      return rows.map((r) => r.line);
    } finally {
      await c.end();
    }
  }

  it('creates the same tables, partitions, bounds and columns as the demo schema of npm start', async () => {
    const sql = readText('deploy/postgres/init/01-demo-schema.sql');
    // UTC like the entrypoint's default; the bounds must not depend on the server's time zone.
    await cluster.query(`SET TimeZone = 'America/Los_Angeles'; ${sql}`, [], 'compose_init');
    const want = await shape('demo');
    expect(want.length).toBe(11);
    expect(await shape('compose_init')).toEqual(want);
  });
});

describe('generated docs', () => {
  it('README.md and config/quietcut.example.yaml are up to date (run npm run docs)', () => {
    for (const f of generatedFiles()) expect(f.current, `${f.path} is out of date: run npm run docs`).toBe(f.wanted);
  });

  it('the example config, loaded as a file, is exactly the defaults', () => {
    expect(readFileSync(examplePath, 'utf8')).toBe(renderExampleYaml());
    expect(loadConfig({ file: examplePath, env: {} })).toEqual(configSchema.parse({}));
  });

  it('documents every option, and each documented environment variable sets its option', () => {
    const defaults = configSchema.parse({}) as Record<string, unknown>;
    const documented = new Set(configSections().flatMap((s) => s.options.map((o) => o.path)));
    const leaves = (o: Record<string, unknown>, prefix: string): string[] =>
      Object.entries(o).flatMap(([k, v]) =>
        v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0 ? leaves(v as Record<string, unknown>, `${prefix}${k}.`) : [`${prefix}${k}`],
      );
    for (const path of leaves(defaults, '')) expect(documented, path).toContain(path);
    for (const o of configSections().flatMap((s) => s.options)) {
      if (!o.env) continue;
      const set = envOverrides({ [o.env]: 'x' });
      let cur: unknown = set;
      for (const k of o.path.split('.')) cur = (cur as Record<string, unknown>)[k];
      expect(cur, `${o.env} -> ${o.path}`).toBe('x');
    }
  });

  it('lists every quietcut metric in the README', () => {
    const readme = readText('README.md');
    for (const name of exportedSeriesNames()) {
      if (name.startsWith('quietcut_') && !/_(bucket|sum|count)$/.test(name)) expect(readme, name).toContain(`| \`${name}\` |`);
    }
    expect(statSync(file('README.md')).size).toBeGreaterThan(0);
  });
});
