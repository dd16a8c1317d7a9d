import { SqlState } from '../../protocol/sqlstate.js';
import type { Cell, Column } from './wire.js';

/** One console statement, split into its verb (e.g. SHOW WINDOWS, PAUSE) and arguments. */
export interface ConsoleStatement {
  verb: string;
  args: string[];
  text: string;
}

/** Who asks: the role the upstream server authenticated. */
export interface ConsoleCaller {
  user: string;
  client: string;
}

export interface ResultSet {
  rows: Cell[][];
  /** CommandComplete tag; default the verb, with the row count for SHOW. */
  tag?: string;
  /** NOTICEs sent before the rows (e.g. options that need a restart). */
  notices?: string[];
}

/** One console command: its columns are fixed, so Describe can answer before it runs. */
export interface ConsoleCommand {
  /** e.g. 'SHOW WINDOWS', 'PAUSE' */
  verb: string;
  /** Usage line for SHOW HELP. */
  usage: string;
  columns: readonly Column[];
  run(args: readonly string[], caller: ConsoleCaller): Promise<ResultSet> | ResultSet;
}

/** An error a console command answers with (message and SQLSTATE for the ErrorResponse). */
export class ConsoleError extends Error {
  constructor(
    readonly sqlState: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'ConsoleError';
  }
}

/** Statements of one simple Query, split at semicolons outside quotes; empty ones dropped. */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  for (const ch of sql) {
    if (quote) {
      if (ch === quote) quote = null;
      cur += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      cur += ch;
    } else if (ch === ';') {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** Words of a statement; quoted words keep their case and lose their quotes. */
function words(text: string): string[] {
  const out: string[] = [];
  const re = /'([^']*)'|"([^"]*)"|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

/**
 * Find the command a statement names: two-word verbs (SHOW WINDOWS) before one-word ones (PAUSE).
 * Null when nothing matches.
 */
export function parseStatement(text: string, verbs: ReadonlySet<string>): ConsoleStatement | null {
  const w = words(text.replace(/;\s*$/, '').trim());
  if (w.length === 0) return null;
  const two = w.length >= 2 ? `${w[0]} ${w[1]}`.toUpperCase() : null;
  if (two && verbs.has(two)) return { verb: two, args: w.slice(2), text };
  const one = w[0]!.toUpperCase();
  if (verbs.has(one)) return { verb: one, args: w.slice(1), text };
  return null;
}

/**
 * A duration argument: `30` (seconds), `30s`, `500ms`, `2min`/`2m`. Throws a ConsoleError naming
 * what it expected.
 */
export function parseDurationMs(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min)?$/i.exec(s.trim());
  if (!m) throw new ConsoleError(SqlState.InvalidParameterValue, `invalid duration ${JSON.stringify(s)}: expected e.g. 30s, 500ms or 2min`);
  const n = Number(m[1]);
  const unit = (m[2] ?? 's').toLowerCase();
  const ms = unit === 'ms' ? n : unit === 'm' || unit === 'min' ? n * 60_000 : n * 1000;
  return Math.round(ms);
}
