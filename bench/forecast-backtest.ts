/**
 * Backtest every series in shared/data/series/ and in bench/series/ (the wider set; protocol of the
 * shared README: 10 origins a day + 3 h apart, one-day horizon, 8 weeks of training, 2-hour trough)
 * and check quietcut against the references computed here with the same protocol: seasonal naive
 * (daily, weekly), additive Holt-Winters (daily, weekly period) and MSTL + ETS.
 *
 * Run: npx tsx bench/forecast-backtest.ts [DIR...] [--markdown] [--detail]
 * Goals per series: quietcut MASE <= the best reference's; trough excess <= the daily naive's.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { backtest, defaultBacktestMethods, forecastProfile, parseSeriesCsv, type BacktestRow } from '../src/forecast/index.js';
import { REFERENCE_METHOD_NAMES } from '../src/forecast/methods.js';
import { formatBacktestTable } from '../src/cli/commands/forecast.js';

const args = process.argv.slice(2);
const markdown = args.includes('--markdown');
const detail = args.includes('--detail');
const dirs = args.filter((a) => !a.startsWith('--'));
// shared/ lies beside the clone (in a worktree, beside the main clone).
const shared = [join(import.meta.dirname, '..', '..', 'shared', 'data', 'series'), '/work/shared/data/series'].find((d) => existsSync(d));
if (dirs.length === 0) dirs.push(...(shared === undefined ? [] : [shared]), join(import.meta.dirname, 'series'));

const files = dirs.flatMap((dir) => readdirSync(dir).filter((f) => f.endsWith('.csv')).sort().map((f) => join(dir, f)));
const rows: BacktestRow[] = [];
const started = performance.now();
for (const file of files) {
  const name = basename(file).replace(/\.csv$/, '');
  rows.push(...backtest(name, parseSeriesCsv(readFileSync(file, 'utf8')), [...defaultBacktestMethods(), { name: 'profile-only', run: forecastProfile }]));
}
if (detail) console.log(`${formatBacktestTable(rows)}\n`);

const f3 = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(3));
const f2 = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(2));
const head = ['series', 'quietcut', ...REFERENCE_METHOD_NAMES, 'best ref', 'MASE ok', 'excess % quietcut / daily naive', 'excess ok'];
const lines: string[][] = [];
let failures = 0;
for (const series of [...new Set(rows.map((r) => r.series))]) {
  const of = (method: string): BacktestRow | undefined => rows.find((r) => r.series === series && r.method === method);
  const ours = of('quietcut') as BacktestRow;
  const refs = REFERENCE_METHOD_NAMES.map((m) => of(m)).filter((r): r is BacktestRow => r !== undefined && Number.isFinite(r.mase));
  const best = refs.reduce((a, b) => (b.mase < a.mase ? b : a));
  const naive = of('seasonal-naive-daily') as BacktestRow;
  // Reported to 3 decimals: a tie at that precision is no loss.
  const maseOk = Number(ours.mase.toFixed(3)) <= Number(best.mase.toFixed(3));
  const excessOk = Number(ours.troughExcessPct.toFixed(2)) <= Number(naive.troughExcessPct.toFixed(2));
  if (!maseOk || !excessOk) failures += 1;
  lines.push([series, f3(ours.mase), ...REFERENCE_METHOD_NAMES.map((m) => f3(of(m)?.mase)), best.method, maseOk ? 'yes' : 'NO', `${f2(ours.troughExcessPct)} / ${f2(naive.troughExcessPct)}`, excessOk ? 'yes' : 'NO']);
}
if (markdown) {
  console.log(`| ${head.join(' | ')} |`);
  console.log(`|${head.map((_, i) => (i === 0 || i === head.length - 4 ? '---' : '---:')).join('|')}|`);
  for (const l of lines) console.log(`| ${l.join(' | ')} |`);
} else {
  const widths = head.map((h, c) => Math.max(h.length, ...lines.map((l) => (l[c] as string).length)));
  for (const l of [head, ...lines]) console.log(l.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] as number) : cell.padStart(widths[c] as number))).join('  '));
}
const q = rows.filter((r) => r.method === 'quietcut');
console.log(`\n${lines.length} series (MASE columns; lower is better). Goals met on ${lines.length - failures} of ${lines.length}. quietcut fit+forecast ${f2(q.reduce((s, r) => s + r.fitMs, 0) / q.length)} ms per origin on average; bench ${((performance.now() - started) / 1000).toFixed(0)} s.`);
