/**
 * Backtest every series in shared/data/series/ (protocol of its README) and print quietcut and the
 * baselines next to the README's reference figures. Run: npx tsx bench/forecast-backtest.ts [DIR]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { backtest, defaultBacktestMethods, forecastProfile, parseSeriesCsv, type BacktestRow } from '../src/forecast/index.js';
import { formatBacktestTable } from '../src/cli/commands/forecast.js';

const dir = process.argv[2] ?? join(import.meta.dirname, '..', '..', 'shared', 'data', 'series');

/** Reference figures from the README (MASE, excess %, hits), for the rows to beat. */
const REFERENCE: Record<string, { best: string; mase: number; excessPct: number; hits: number }[]> = {
  taylor_elec_halfhourly: [
    { best: 'best MASE: stlf', mase: 0.141, excessPct: 0.2, hits: 8 },
    { best: 'best excess: dshw', mase: 0.25, excessPct: 0.0, hits: 8 },
  ],
  flights_us_total_hourly: [
    { best: 'best MASE: snaive weekly', mase: 0.712, excessPct: 0.0, hits: 8 },
    { best: 'best hits: stlf', mase: 0.776, excessPct: 0.0, hits: 9 },
  ],
  flights_ORD_hourly: [
    { best: 'best MASE: Fourier+auto.arima', mase: 0.553, excessPct: 0.0, hits: 10 },
  ],
};

const rows: BacktestRow[] = [];
for (const file of readdirSync(dir).filter((f) => f.endsWith('.csv')).sort()) {
  const name = file.replace(/\.csv$/, '');
  rows.push(...backtest(name, parseSeriesCsv(readFileSync(join(dir, file), 'utf8')), [
    ...defaultBacktestMethods(),
    // For comparison: the profile model alone (quietcut before the MSTL choice).
    { name: 'profile-only', run: forecastProfile },
  ]));
}
console.log(formatBacktestTable(rows));
console.log('\nGoals: quietcut beats daily seasonal naive on MASE and excess, and matches the best reference.');
for (const [series, refs] of Object.entries(REFERENCE)) {
  const ours = rows.find((r) => r.series === series && r.method === 'quietcut');
  const naive = rows.find((r) => r.series === series && r.method === 'seasonal-naive-daily');
  if (ours === undefined || naive === undefined) continue;
  const vsNaive = ours.mase < naive.mase && ours.troughExcessPct <= naive.troughExcessPct ? 'beats' : 'DOES NOT beat';
  console.log(`${series}: quietcut MASE ${ours.mase.toFixed(3)}, excess ${ours.troughExcessPct.toFixed(2)} %, hits ${ours.troughHits} — ${vsNaive} daily naive (${naive.mase.toFixed(3)}, ${naive.troughExcessPct.toFixed(2)} %)`);
  for (const ref of refs) {
    const ok = ours.mase <= ref.mase && ours.troughExcessPct <= ref.excessPct + 0.05 && ours.troughHits >= ref.hits;
    console.log(`  vs ${ref.best} (MASE ${ref.mase}, excess ${ref.excessPct} % (rounded), hits ${ref.hits}): ${ok ? 'no worse' : 'WORSE'}`);
  }
}
