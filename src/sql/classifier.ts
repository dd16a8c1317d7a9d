/**
 * classify(sql): a Query string → one ClassifiedStatement per statement, through a cache of recent
 * texts and a lexical prefilter for plain SELECTs, and otherwise PostgreSQL's parser.
 */
import { classifyNode } from './classify-statement.js';
import { LruCache } from './lru-cache.js';
import { parseStatements } from './parser.js';
import { obviousRead } from './read-prefilter.js';
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
