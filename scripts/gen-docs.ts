/**
 * Generates the documentation that must never drift from the code:
 *
 * - README.md, between `<!-- config:begin -->` and `<!-- config:end -->`: the configuration
 *   reference, from `configSchema` (src/config/schema.ts) through zod's JSON Schema export;
 * - README.md, between `<!-- metrics:begin -->` and `<!-- metrics:end -->`: the metrics reference,
 *   from `Metrics` (src/metrics/registry.ts);
 * - config/quietcut.example.yaml: every option with its default, its description as a comment.
 *
 * Run `npm run docs` after changing either source; `npm run docs -- --check` only reports stale
 * files (test/ops.test.ts does the same check). Everything outside the markers in README.md belongs
 * to whoever writes the README and is left as it is.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Document, isMap, isScalar, type Pair, type YAMLMap } from 'yaml';
import { z } from 'zod';
import { configSchema } from '../src/config/schema.js';
import { Metrics } from '../src/metrics/registry.js';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const readmePath = join(repoRoot, 'README.md');
export const examplePath = join(repoRoot, 'config', 'quietcut.example.yaml');

/** The subset of JSON Schema that zod emits for quietcut's config. */
interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
}

/** One documented option: a leaf, a map of named entries, or a field of such an entry. */
export interface OptionDoc {
  /** Dotted path; `<key>` stands for a map entry's name. */
  path: string;
  type: string;
  /** Undefined for fields of map entries, which have no default of their own. */
  default: unknown;
  description: string;
  /** Environment variable that sets it (load.ts's QUIETCUT_SECTION__KEY), where one does. */
  env: string | null;
}

export interface SectionDoc {
  /** Top-level key, or null for the top-level scalars. */
  name: string | null;
  description: string;
  options: OptionDoc[];
}

const MAP_KEY = '<key>';

/** JSON Schema of the config as a user writes it: defaults present, nothing required. */
export function configJsonSchema(): JsonSchema {
  return z.toJSONSchema(configSchema, { io: 'input' }) as JsonSchema;
}

function isSection(s: JsonSchema): boolean {
  return s.properties !== undefined;
}

function recordValue(s: JsonSchema): JsonSchema | null {
  return s.properties === undefined && typeof s.additionalProperties === 'object' ? s.additionalProperties : null;
}

function bounds(s: JsonSchema): string {
  const parts: string[] = [];
  // zod's .int() adds ±MAX_SAFE_INTEGER: not worth a word in the docs.
  const big = (n: number | undefined): boolean => n !== undefined && Math.abs(n) >= Number.MAX_SAFE_INTEGER;
  if (s.exclusiveMinimum !== undefined) parts.push(`> ${s.exclusiveMinimum}`);
  if (s.minimum !== undefined && !big(s.minimum)) parts.push(`≥ ${s.minimum}`);
  if (s.exclusiveMaximum !== undefined) parts.push(`< ${s.exclusiveMaximum}`);
  if (s.maximum !== undefined && !big(s.maximum)) parts.push(`≤ ${s.maximum}`);
  return parts.length ? ` ${parts.join(', ')}` : '';
}

/** A short human type: `integer > 0`, `'hold' or 'reject'`, `string or null`, `map of list of string`. */
export function describeType(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => (typeof v === 'string' ? `'${v}'` : String(v))).join(' or ');
  if (s.anyOf) return s.anyOf.map(describeType).join(' or ');
  const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  return types
    .map((t) => {
      if (t === 'integer' || t === 'number') return `${t}${bounds(s)}`;
      if (t === 'array') return `list of ${s.items ? describeType(s.items) : 'anything'}`;
      if (t === 'object') {
        const v = recordValue(s);
        if (!v) return 'object';
        return isSection(v) ? 'map of objects' : `map of ${describeType(v)}`;
      }
      return t;
    })
    .join(' or ');
}

function upperSnake(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

export function envName(path: string[]): string {
  return `QUIETCUT_${path.map(upperSnake).join('__')}`;
}

function optionsOf(props: Record<string, JsonSchema>, prefix: string[], inMap: boolean): OptionDoc[] {
  const out: OptionDoc[] = [];
  for (const [key, s] of Object.entries(props)) {
    const path = [...prefix, key];
    if (isSection(s)) {
      out.push(...optionsOf(s.properties ?? {}, path, inMap));
      continue;
    }
    out.push({
      path: path.join('.'),
      type: describeType(s),
      default: inMap ? undefined : s.default,
      description: s.description ?? '',
      env: inMap ? null : envName(path),
    });
    const value = recordValue(s);
    if (value && isSection(value)) out.push(...optionsOf(value.properties ?? {}, [...path, MAP_KEY], true));
  }
  return out;
}

/** The configuration, section by section, in schema order. */
export function configSections(): SectionDoc[] {
  const root = configJsonSchema();
  const top: SectionDoc = { name: null, description: '', options: [] };
  const sections: SectionDoc[] = [top];
  for (const [key, s] of Object.entries(root.properties ?? {})) {
    if (isSection(s)) sections.push({ name: key, description: s.description ?? '', options: optionsOf(s.properties ?? {}, [key], false) });
    else top.options.push(...optionsOf({ [key]: s }, [], false));
  }
  return sections;
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function code(text: string): string {
  // A backtick inside inline code would end it early; none of quietcut's defaults has one.
  return `\`${text}\``;
}

export function renderConfigReference(): string {
  const lines: string[] = [
    '',
    '_Generated by `npm run docs` from `src/config/schema.ts`: change the schema, not this section._',
    '',
    'quietcut reads one YAML file (`quietcut start --config FILE`); `config/quietcut.example.yaml` lists every option with its default.',
    'Environment variables override the file and command-line flags override both. An option is set by',
    '`QUIETCUT_<SECTION>__<KEY>` in upper snake case (values `true`, `false`, `null`, numbers and JSON are converted);',
    'a map option takes JSON. Unknown keys are an error. Passwords never go in the file: `QUIETCUT_ADMIN_PASSWORD`, `PGPASSWORD` or a passfile.',
  ];
  for (const section of configSections()) {
    if (section.options.length === 0) continue;
    lines.push('', section.name === null ? '### Top level' : `### \`${section.name}\``, '');
    if (section.description) lines.push(`${section.description}.`, '');
    lines.push('| option | type | default | environment | description |', '| --- | --- | --- | --- | --- |');
    for (const o of section.options) {
      const def = o.default === undefined ? '' : code(JSON.stringify(o.default));
      lines.push(`| ${code(o.path)} | ${cell(o.type)} | ${cell(def)} | ${o.env ? code(o.env) : ''} | ${cell(o.description)} |`);
    }
  }
  lines.push('');
  return lines.join('\n');
}

export interface MetricDoc {
  name: string;
  type: string;
  labels: string[];
  help: string;
}

/** quietcut's own metrics, in registry.ts order. */
export function quietcutMetrics(): MetricDoc[] {
  const metrics = new Metrics();
  return metrics.registry
    .getMetricsAsArray()
    .filter((m) => m.name.startsWith('quietcut_'))
    .map((m) => ({
      name: m.name,
      type: String(m.type),
      // prom-client keeps label names on the metric object; its public type does not declare them.
      labels: [...((m as unknown as { labelNames?: readonly string[] }).labelNames ?? [])],
      help: m.help,
    }));
}

export function renderMetricsReference(): string {
  const lines = [
    '',
    '_Generated by `npm run docs` from `src/metrics/registry.ts`: change the registry, not this section._',
    '',
    'Served at `http://<metrics.listen>/metrics`. Partition labels are `schema.partition` names of partitions quietcut knows,',
    'capped by `metrics.maxPartitionLabels`; past the cap further partitions share `partition="_other"`. A histogram also exports',
    '`_bucket`, `_sum` and `_count` series. Node.js process metrics (`process_*`, `nodejs_*`) are exported as well.',
    'Scrape config, recording and alerting rules: `config/prometheus.yml`, `config/quietcut-rules.yml`.',
    '',
    '| metric | type | labels | meaning |',
    '| --- | --- | --- | --- |',
  ];
  for (const m of quietcutMetrics()) {
    lines.push(`| ${code(m.name)} | ${m.type} | ${m.labels.map(code).join(', ')} | ${cell(m.help)} |`);
  }
  lines.push('');
  return lines.join('\n');
}

const MARKERS = {
  config: { heading: 'Configuration reference', render: renderConfigReference },
  metrics: { heading: 'Metrics reference', render: renderMetricsReference },
} as const;

/**
 * README.md with the generated sections replaced between their markers; a missing pair of markers
 * is appended at the end under its heading. `current` null: a minimal README with a title.
 */
export function renderReadme(current: string | null): string {
  let text = current ?? '# quietcut\n';
  for (const [name, { heading, render }] of Object.entries(MARKERS)) {
    const begin = `<!-- ${name}:begin -->`;
    const end = `<!-- ${name}:end -->`;
    const from = text.indexOf(begin);
    const to = text.indexOf(end);
    if (from === -1 || to === -1 || to < from) {
      if (from !== -1 || to !== -1) throw new Error(`README.md: ${begin} and ${end} must both be present, in that order`);
      text = `${text.trimEnd()}\n\n## ${heading}\n\n${begin}${render()}${end}\n`;
    } else {
      text = text.slice(0, from + begin.length) + render() + text.slice(to);
    }
  }
  return text;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

function comment(lines: string[]): string {
  return lines.map((l) => ` ${l}`).join('\n');
}

function annotate(map: YAMLMap, props: Record<string, JsonSchema>, depth: number): void {
  map.items.forEach((pair: Pair, i) => {
    if (!isScalar(pair.key)) return;
    const key = String(pair.key.value);
    const s = props[key];
    if (!s) return;
    const text: string[] = [];
    if (s.description) text.push(...wrap(s.description, 96 - 2 * depth));
    if (!isSection(s)) text.push(`type: ${describeType(s)}`);
    const value = recordValue(s);
    if (value && isSection(value)) {
      // The default map is empty, so show what one entry may contain.
      text.push(`each entry (${MAP_KEY}:) may set:`);
      for (const [field, fs] of Object.entries(value.properties ?? {})) {
        const entry = wrap(`${field}: ${describeType(fs)}${fs.description ? `. ${fs.description}` : ''}`, 92 - 2 * depth);
        text.push(...entry.map((l, j) => (j === 0 ? `  ${l}` : `      ${l}`)));
      }
    }
    if (text.length) pair.key.commentBefore = comment(text);
    // A blank line between top-level sections and before every commented nested option.
    if (i > 0 && (depth === 0 || text.length > 0)) pair.key.spaceBefore = true;
    if (isSection(s) && isMap(pair.value)) annotate(pair.value, s.properties ?? {}, depth + 1);
  });
}

/** config/quietcut.example.yaml: the defaults as YAML, each option's description above it. */
export function renderExampleYaml(): string {
  const doc = new Document(configSchema.parse({}));
  doc.commentBefore = comment([
    'quietcut configuration: every option with its default value.',
    'Generated by `npm run docs` from src/config/schema.ts; change the schema, not this file.',
    'Copy what you need: any option left out takes the default shown here. Environment variables',
    'QUIETCUT_<SECTION>__<KEY> override this file; passwords never go here (QUIETCUT_ADMIN_PASSWORD,',
    'PGPASSWORD or a passfile).',
  ]);
  if (isMap(doc.contents)) annotate(doc.contents, configJsonSchema().properties ?? {}, 0);
  return doc.toString({ lineWidth: 0 });
}

export interface GeneratedFile {
  path: string;
  current: string | null;
  wanted: string;
}

export function generatedFiles(): GeneratedFile[] {
  const read = (p: string): string | null => (existsSync(p) ? readFileSync(p, 'utf8') : null);
  const readme = read(readmePath);
  return [
    { path: readmePath, current: readme, wanted: renderReadme(readme) },
    { path: examplePath, current: read(examplePath), wanted: renderExampleYaml() },
  ];
}

function main(argv: string[]): number {
  const check = argv.includes('--check');
  const stale = generatedFiles().filter((f) => f.current !== f.wanted);
  for (const f of stale) {
    const name = relative(repoRoot, f.path);
    if (check) process.stderr.write(`${name} is out of date: run npm run docs\n`);
    else {
      writeFileSync(f.path, f.wanted);
      process.stdout.write(`wrote ${name}\n`);
    }
  }
  return check && stale.length > 0 ? 1 : 0;
}

// Run only as a script, so the test can import the renderers without writing anything.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
