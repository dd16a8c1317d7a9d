/**
 * classify(sql): a Query string → one ClassifiedStatement per statement, through a cache of recent
 * texts and a lexical prefilter for plain SELECTs, and otherwise PostgreSQL's parser.
 */
import { classifyNode } from './classify-statement.js';
import { LruCache } from './lru-cache.js';
import { parseStatements } from './parser.js';
import { obviousRead } from './read-prefilter.js';
import { normalizeLiterals } from './normalize.js';
import type { ClassifiedStatement } from './types.js';

export interface SqlClassifierOptions {
  /** Statements texts remembered (0 turns the cache off). */
  cacheEntries?: number;
  /** Longer texts (bulk VALUES lists with literals) are classified but not remembered, to bound memory. */
  maxCachedSqlChars?: number;
  /** Answer plain SELECTs without parsing. */
  prefilter?: boolean;
}

export interface SqlClassifierStats {
  cacheHits: number;
  prefiltered: number;
  parsed: number;
  unparsed: number;
}

export const DEFAULT_CACHE_ENTRIES = 4096;
export const DEFAULT_MAX_CACHED_SQL_CHARS = 16 * 1024;

/** Frozen so that a caller editing a result cannot corrupt what the cache hands to the next one. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

const NON_ASCII = /[^\x00-\x7f]/;
const NORMALIZED_PREFIX = '\u0000n:';
const NOT_NORMALIZABLE = Symbol('not normalizable');

/** The parser reports UTF-8 byte offsets; callers slice the JS string, so convert to UTF-16 indices. */
function byteOffsetMapper(sql: string): (byteOffset: number) => number {
  if (!NON_ASCII.test(sql)) return (b) => b;
  const bytes = Buffer.from(sql, 'utf8');
  return (b) => bytes.subarray(0, b).toString('utf8').length;
}

/** One frozen 'unparsed' entry: the server will reject the text, or run syntax newer than our parser. */
function unparsed(sql: string): ClassifiedStatement[] {
  return [{ kind: 'unparsed', targets: [], location: 0, length: sql.length }];
}

/** Classify without cache or prefilter: always PostgreSQL's parser. */
export function classifyParsed(sql: string): ClassifiedStatement[] | null {
  const stmts = parseStatements(sql);
  if (stmts === null) return null;
  const toIndex = byteOffsetMapper(sql);
  return stmts.map((raw) => {
    const out = raw.stmt === undefined ? { kind: 'other' as const, targets: [] } : classifyNode(raw.stmt);
    const startByte = raw.stmt_location ?? 0;
    const location = toIndex(startByte);
    // stmt_len 0 (omitted) means "to the end of the text".
    const end = raw.stmt_len === undefined || raw.stmt_len === 0 ? sql.length : toIndex(startByte + raw.stmt_len);
    out.location = location;
    out.length = end - location;
    return out;
  });
}

export class SqlClassifier {
  private readonly cache: LruCache<string, readonly ClassifiedStatement[]>;
  private readonly maxCachedSqlChars: number;
  private readonly usePrefilter: boolean;
  readonly stats: SqlClassifierStats = { cacheHits: 0, prefiltered: 0, parsed: 0, unparsed: 0 };

  constructor(options: SqlClassifierOptions = {}) {
    this.cache = new LruCache(options.cacheEntries ?? DEFAULT_CACHE_ENTRIES);
    this.maxCachedSqlChars = options.maxCachedSqlChars ?? DEFAULT_MAX_CACHED_SQL_CHARS;
    this.usePrefilter = options.prefilter ?? true;
  }

  /** Results are shared and frozen: read them, do not modify them. */
  classify(sql: string): readonly ClassifiedStatement[] {
    const cached = this.cache.get(sql);
    if (cached !== undefined) {
      this.stats.cacheHits++;
      return cached;
    }
    let result: ClassifiedStatement[];
    const read = this.usePrefilter ? obviousRead(sql) : null;
    if (read !== null) {
      this.stats.prefiltered++;
      // Not cached: re-running the prefilter is as cheap as a lookup, and simple-protocol reads
      // with literals are all different texts that would only churn the cache.
      return deepFreeze([{ kind: 'read', targets: [], location: read.location, length: read.length }]);
    } else {
      const parsed = classifyParsed(sql);
      if (parsed === null) this.stats.unparsed++;
      else this.stats.parsed++;
      result = parsed ?? unparsed(sql);
    }
    deepFreeze(result);
    if (sql.length <= this.maxCachedSqlChars) this.cache.set(sql, result);
    return result;
  }

  /**
   * Classify a simple-protocol Query text. Texts that differ only in literals share one parse:
   * the literals come back as `literals` and the statements refer to them as parameters $1..$n.
   */
  classifyQuery(sql: string): { stmts: readonly ClassifiedStatement[]; literals: readonly string[] | null } {
    if (this.usePrefilter) {
      const read = obviousRead(sql);
      if (read !== null) {
        this.stats.prefiltered++;
        return { stmts: deepFreeze([{ kind: 'read', targets: [], location: read.location, length: read.length }]), literals: null };
      }
    }
    const norm = normalizeLiterals(sql);
    if (norm !== null && norm.literals.length > 0) {
      const key = NORMALIZED_PREFIX + norm.text;
      const shape = this.shapes.get(key);
      if (shape !== undefined) {
        if (shape !== NOT_NORMALIZABLE) {
          this.stats.cacheHits++;
          return { stmts: shape, literals: norm.literals };
        }
      } else {
        const parsed = classifyParsed(norm.text);
        // Only data statements: SET, transaction control (gids), DDL and the like mean what their literals say.
        if (parsed !== null && parsed.every((s) => s.kind === 'read' || s.kind === 'write') && !hasCastParam(parsed)) {
          this.stats.parsed++;
          this.shapes.set(key, deepFreeze(parsed));
          return { stmts: parsed, literals: norm.literals };
        }
        // typed literals (date '...'), SET x = '...', gids: only the original text parses
        this.shapes.set(key, NOT_NORMALIZABLE);
      }
    }
    return { stmts: this.classify(sql), literals: null };
  }

  private readonly shapes = new LruCache<string, readonly ClassifiedStatement[] | typeof NOT_NORMALIZABLE>(DEFAULT_CACHE_ENTRIES);

  clearCache(): void {
    this.cache.clear();
  }
}

let shared: SqlClassifier | null = null;

/** Classify with a process-wide classifier (default options); see SqlClassifier for your own. */
export function classify(sql: string): readonly ClassifiedStatement[] {
  shared ??= new SqlClassifier();
  return shared.classify(sql);
}

/**
 * A $n under a cast may round or cut the literal it stands for (`'5.7'::int`, a timestamp text cast
 * to date); the literal itself would have been classified as unknown. Such shapes are not normalized.
 */
function hasCastParam(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasCastParam);
  if (typeof value !== 'object' || value === null) return false;
  const o = value as Record<string, unknown>;
  if (o.kind === 'param' && o.cast !== undefined) return true;
  return Object.values(o).some(hasCastParam);
}
