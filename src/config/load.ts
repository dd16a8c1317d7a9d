import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { configSchema, type Config } from './schema.js';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Deep merge where `over` wins; arrays and scalars replace. */
function merge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (isPlainObject(base) && isPlainObject(over)) {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(over)) out[k] = merge(base[k], v);
    return out;
  }
  return over;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i]!;
    if (!isPlainObject(cur[k])) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}

function coerceEnv(raw: string): unknown {
  if (raw === 'null') return null;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  if (/^[[{]/.test(raw)) {
    try {
      return JSON.parse(raw);
    } catch {
      return raw;
    }
  }
  return raw;
}

/**
 * QUIETCUT_<SECTION>__<KEY>=value, or QUIETCUT_<KEY> for top-level keys; names are matched
 * case-insensitively against the schema, so QUIETCUT_LIMITS__MAX_CLIENT_CONNECTIONS works.
 */
export function envOverrides(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const known = new Set(['LOG_LEVEL', 'ADMIN_PASSWORD', 'NODE', 'CONFIG', 'STATE_FILE', 'WORKER_SLOT', 'TEST_WORKER_OPTIONS']); // read elsewhere, not config keys
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('QUIETCUT_') || raw === undefined) continue;
    const rest = name.slice('QUIETCUT_'.length);
    if (known.has(rest)) continue;
    const path = rest.split('__').map(camel);
    setPath(out, path, coerceEnv(raw));
  }
  return out;
}

function camel(s: string): string {
  return s.toLowerCase().replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function formatIssues(err: z.ZodError, source: string): string {
  return err.issues
    .map((i) => {
      const where = i.path.length ? i.path.join('.') : '(top level)';
      if (i.code === 'unrecognized_keys') return `${source}: unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `'${[...i.path, k].join('.')}'`).join(', ')}`;
      return `${source}: ${where}: ${i.message}`;
    })
    .join('\n');
}

export interface LoadConfigOptions {
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** CLI flags, highest precedence. */
  overrides?: Record<string, unknown>;
}

/** File < environment < CLI flags; validated once, then frozen. */
export function loadConfig(opts: LoadConfigOptions = {}): Config {
  let fromFile: unknown = {};
  const source = opts.file ?? 'configuration';
  if (opts.file) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${opts.file}: ${(err as Error).message}`);
    }
    try {
      fromFile = parseYaml(text) ?? {};
    } catch (err) {
      throw new ConfigError(`${opts.file} is not valid YAML: ${(err as Error).message}`);
    }
    if (!isPlainObject(fromFile)) throw new ConfigError(`${opts.file}: expected a mapping of options at the top level`);
  }
  const merged = merge(merge(fromFile, envOverrides(opts.env ?? process.env)), opts.overrides ?? {});
  const result = configSchema.safeParse(merged);
  if (!result.success) throw new ConfigError(formatIssues(result.error, source));
  return deepFreeze(result.data);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
