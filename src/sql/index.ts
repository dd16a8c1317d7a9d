/** sql/: what a SQL statement does to partitioned tables, from PostgreSQL's own parser. Pure. */
export { initSqlParser, isSqlParserReady, SqlParserNotReadyError } from './parser.js';
export {
  classify,
  classifyParsed,
  SqlClassifier,
  DEFAULT_CACHE_ENTRIES,
  DEFAULT_MAX_CACHED_SQL_CHARS,
  type SqlClassifierOptions,
  type SqlClassifierStats,
} from './classifier.js';
export { obviousRead, type ObviousRead } from './read-prefilter.js';
export { parseSearchPath, resolveSchemaCandidates, SearchPathSyntaxError, truncateIdentifier } from './search-path.js';
export { LruCache } from './lru-cache.js';
export type * from './types.js';
