/**
 * The one place that talks to libpg-query (PostgreSQL's own parser compiled to WebAssembly).
 * Everything else in sql/ works on the plain parse tree this returns.
 */
import { loadModule, parseSync } from 'libpg-query';
import type { RawStmt } from 'libpg-query';

let ready: Promise<void> | null = null;
let loaded = false;

/** Load the WebAssembly parser once; call at startup before the first classify(). */
export function initSqlParser(): Promise<void> {
  ready ??= loadModule().then(() => {
    loaded = true;
  });
  return ready;
}

export function isSqlParserReady(): boolean {
  return loaded;
}

export class SqlParserNotReadyError extends Error {
  constructor() {
    super('SQL parser not loaded: await initSqlParser() at startup');
    this.name = 'SqlParserNotReadyError';
  }
}

/**
 * Parse a Query string into its statements, or null when PostgreSQL's grammar rejects it.
 * Throws only when the parser was never loaded (a programming error, not bad input).
 */
export function parseStatements(sql: string): RawStmt[] | null {
  if (!loaded) throw new SqlParserNotReadyError();
  if (sql.length === 0) return []; // libpg-query rejects '', the server answers EmptyQueryResponse
  // The parser reads a C string: text after a NUL would go unseen. (The server rejects such a message.)
  if (sql.includes('\u0000')) return null;
  try {
    return parseSync(sql).stmts ?? [];
  } catch {
    return null;
  }
}
