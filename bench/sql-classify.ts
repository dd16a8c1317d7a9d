/**
 * Cost of classifying one statement, over the sql/ corpus plus a few typical OLTP statements:
 *   uncached    every text parsed (cache off, prefilter off): the cost of a new statement text
 *   prefilter   cache off, prefilter on: plain SELECTs skip the parser
 *   cached      every text already in the cache: the cost of a repeated text (e.g. Parse reuse)
 * Run: npx tsx bench/sql-classify.ts [rounds]
 */
import { CORPUS } from '../src/sql/corpus.fixtures.js';
import { initSqlParser, SqlClassifier } from '../src/sql/index.js';

const rounds = Number(process.argv[2] ?? 20);

const OLTP = [
  'INSERT INTO events (id, created_at, payload) VALUES ($1, $2, $3)',
  'UPDATE events SET v = v + 1 WHERE id = $1 AND created_at = $2',
  'SELECT * FROM events WHERE id = $1',
  'SELECT a, b FROM events WHERE created_at >= $1 AND created_at < $2 ORDER BY a LIMIT 100',
  'DELETE FROM events WHERE id = $1',
  'BEGIN',
  'COMMIT',
];

function measure(label: string, texts: readonly string[], k: SqlClassifier): void {
  let sink = 0;
  const start = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) for (const t of texts) sink += k.classify(t).length;
  const ns = Number(process.hrtime.bigint() - start);
  const per = ns / 1000 / (rounds * texts.length);
  console.log(`${label.padEnd(34)} ${per.toFixed(2).padStart(8)} µs/statement  (${rounds * texts.length} calls, sink ${sink})`);
}

await initSqlParser();
const corpus = CORPUS.map((c) => c.sql);
const plainReads = [
  'SELECT * FROM events WHERE id = $1',
  "SELECT a, b FROM events WHERE region = 'eu' AND id IN (1, 2, 3) ORDER BY a LIMIT 10",
  'SELECT e.id FROM events e JOIN staging s ON e.id = s.id WHERE e.v > 3 FOR UPDATE',
];
for (const [name, texts] of [
  ['corpus', corpus],
  ['oltp', OLTP],
  ['plain reads', plainReads],
] as const) {
  console.log(`— ${name}: ${texts.length} texts`);
  // Warm up the JIT and the WebAssembly module before timing.
  const warm = new SqlClassifier({ cacheEntries: 0, prefilter: false });
  const warmPrefilter = new SqlClassifier({ cacheEntries: 0 });
  for (let r = 0; r < 5; r++) {
    for (const t of texts) {
      warm.classify(t);
      warmPrefilter.classify(t);
    }
  }
  // Interleaved twice, so neither mode alone pays for warm-up or a garbage collection.
  for (let pass = 0; pass < 2; pass++) {
    measure('uncached (parser every time)', texts, new SqlClassifier({ cacheEntries: 0, prefilter: false }));
    measure('uncached, prefilter on', texts, new SqlClassifier({ cacheEntries: 0, prefilter: true }));
    const cached = new SqlClassifier({ cacheEntries: 10_000 });
    for (const t of texts) cached.classify(t);
    measure('cached', texts, cached);
  }
}
