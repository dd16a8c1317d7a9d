/**
 * Regenerates the wider evaluation set in this folder from public data (see README.md here for
 * sources and licences). Run: npx tsx bench/series/regenerate.ts
 *
 * It fetches, with `npm pack` (the npm registry, pinned versions), the data package vega-datasets
 * 3.2.1 and two pure-JavaScript readers for its Parquet file (hyparquet, and fzstd for the file's
 * ZSTD pages) into a temporary folder: none of them is a dependency of quietcut. The protocol is
 * that of shared/data/series/README.md (the flights_ORD_hourly.csv there is made the same way).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const OUT = import.meta.dirname;
const PACKAGES = ['vega-datasets@3.2.1', 'hyparquet@1.31.5', 'fzstd@0.1.1'];
/** The series: departures from the busiest origin airports after ORD (already in shared/), arrivals at ORD. */
const ORIGINS = ['DFW', 'ATL', 'LAX', 'PHX', 'STL', 'DTW', 'MSP', 'LAS', 'DEN', 'BOS', 'IAH', 'CLT'];
const ARRIVALS = ['ORD'];
const START_MS = Date.UTC(2001, 0, 1);
const END_MS = Date.UTC(2001, 6, 1); // exclusive: the file's one record at 2001-07-01 00:00 is dropped
const HOUR_MS = 3_600_000;

const work = mkdtempSync(join(tmpdir(), 'quietcut-series-'));
try {
  execFileSync('npm', ['pack', '--silent', ...PACKAGES], { cwd: work, stdio: ['ignore', 'ignore', 'inherit'] });
  const unpack = (tgz: string, dir: string): string => {
    mkdirSync(join(work, dir));
    execFileSync('tar', ['xzf', join(work, tgz), '-C', join(work, dir)]);
    return join(work, dir, 'package');
  };
  const vega = unpack('vega-datasets-3.2.1.tgz', 'vega');
  const hyparquet = (await import(pathToFileURL(join(unpack('hyparquet-1.31.5.tgz', 'hyparquet'), 'src', 'index.js')).href)) as {
    parquetReadObjects: (o: { file: ArrayBuffer; columns: string[]; compressors: Record<string, (input: Uint8Array, outputLength: number) => Uint8Array> }) => Promise<Record<string, unknown>[]>;
  };
  const fzstd = (await import(pathToFileURL(join(unpack('fzstd-0.1.1.tgz', 'fzstd'), 'esm', 'index.mjs')).href)) as { decompress: (d: Uint8Array, out: Uint8Array) => Uint8Array };
  const buf = readFileSync(join(vega, 'data', 'flights-3m.parquet'));
  const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const rows = await hyparquet.parquetReadObjects({
    file,
    columns: ['date', 'origin', 'destination'],
    compressors: { ZSTD: (input, outputLength) => fzstd.decompress(input, new Uint8Array(outputLength)) },
  });
  const hours = (END_MS - START_MS) / HOUR_MS;
  const counts = new Map<string, Float64Array>();
  const add = (key: string, ms: number): void => {
    let c = counts.get(key);
    if (c === undefined) counts.set(key, (c = new Float64Array(hours)));
    const h = Math.floor((ms - START_MS) / HOUR_MS);
    if (h >= 0 && h < hours) c[h] = (c[h] as number) + 1;
  };
  for (const r of rows) {
    // `date` is a TIMESTAMP without time zone (local departure time at the origin): read as UTC it
    // is the local wall clock, which is what the files write with a Z (as the shared series do).
    const ms = (r.date as Date).getTime();
    if (ORIGINS.includes(r.origin as string)) add(`dep:${r.origin as string}`, ms);
    if (ARRIVALS.includes(r.destination as string)) add(`arr:${r.destination as string}`, ms);
  }
  const write = (name: string, values: Float64Array): void => {
    const lines = ['ts,value'];
    for (let h = 0; h < values.length; h++) lines.push(`${new Date(START_MS + h * HOUR_MS).toISOString().replace('.000Z', 'Z')},${values[h]}`);
    writeFileSync(join(OUT, name), `${lines.join('\n')}\n`);
    console.log(`${name}: ${values.length} hours, ${values.reduce((a, b) => a + b, 0)} flights, ${values.filter((v) => v === 0).length} zero hours`);
  };
  for (const o of ORIGINS) write(`flights_${o}_hourly.csv`, counts.get(`dep:${o}`) as Float64Array);
  for (const a of ARRIVALS) write(`flights_${a}_arrivals_hourly.csv`, counts.get(`arr:${a}`) as Float64Array);
} finally {
  rmSync(work, { recursive: true, force: true });
}
