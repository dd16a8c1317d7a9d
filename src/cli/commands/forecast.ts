/**
 * `quietcut forecast --backtest FILE.csv...`: rolling-origin backtest of the production forecast
 * against the seasonal-naive baselines, as a table or as JSON.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { aggregateSeries, backtest, defaultBacktestMethods, parseSeriesCsv, type BacktestRow } from '../../forecast/index.js';

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `90s`, `5m`, `2h`, `1d`, `1w` (or combinations such as `1h30m`) to milliseconds. */
export function parseDurationMs(text: string): number {
  const parts = text.trim().match(/^(?:\d+(?:\.\d+)?[smhdw])+$/) ? text.trim().match(/\d+(?:\.\d+)?[smhdw]/g) : null;
  if (parts === null) throw new Error(`bad duration ${JSON.stringify(text)} (expected e.g. 30m, 2h, 1d)`);
  return parts.reduce((sum, part) => sum + Number(part.slice(0, -1)) * (UNIT_MS[part.slice(-1)] as number), 0);
}

interface ForecastCommandOptions {
  backtest?: string[];
  step?: string;
  horizon: string;
  window: string;
  json?: boolean;
}

export async function runForecastBacktest(files: string[], opts: Omit<ForecastCommandOptions, 'backtest'>): Promise<BacktestRow[]> {
  const rows: BacktestRow[] = [];
  for (const file of files) {
    let series = parseSeriesCsv(await readFile(file, 'utf8'));
    if (opts.step !== undefined) series = aggregateSeries(series, parseDurationMs(opts.step));
    const name = basename(file).replace(/\.csv$/i, '');
    rows.push(...backtest(name, series, defaultBacktestMethods(), { horizonMs: parseDurationMs(opts.horizon), windowMs: parseDurationMs(opts.window) }));
  }
  return rows;
}

export function formatBacktestTable(rows: BacktestRow[]): string {
  const header = ['series', 'method', 'origins', 'MASE', 'sMAPE %', 'trough excess %', 'hits', 'fit ms'];
  const body = rows.map((r) => [r.series, r.method, String(r.origins), fixed(r.mase, 3), fixed(r.smape, 1), fixed(r.troughExcessPct, 2), `${r.troughHits}/${r.origins}`, fixed(r.fitMs, 1)]);
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((row) => (row[c] as string).length)));
  const line = (cells: string[]): string => cells.map((cell, c) => (c < 2 ? cell.padEnd(widths[c] as number) : cell.padStart(widths[c] as number))).join('  ');
  return [line(header), ...body.map(line)].join('\n');
}

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '–';
}

export function registerForecast(program: Command): void {
  program
    .command('forecast')
    .description('forecast write load; --backtest compares the production model with seasonal naive on ts,value CSV files')
    .option('--backtest <files...>', 'CSV files with header ts,value to backtest')
    .option('--step <duration>', 'aggregate each series to this step first (a multiple of its own step), e.g. 15m')
    .option('--horizon <duration>', 'forecast horizon per origin', '1d')
    .option('--window <duration>', 'trough window the planner would choose', '2h')
    .option('--json', 'print JSON instead of a table')
    .action(async (opts: ForecastCommandOptions) => {
      if (opts.backtest === undefined || opts.backtest.length === 0) throw new Error('nothing to do: give --backtest FILE.csv...');
      const rows = await runForecastBacktest(opts.backtest, opts);
      // JSON numbers cannot be NaN: an undefined metric (e.g. a zero MASE scale) is null.
      console.log(opts.json === true ? JSON.stringify(rows, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value), 2) : formatBacktestTable(rows));
    });
}
