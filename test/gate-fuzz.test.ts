import { afterAll, beforeAll, expect, test } from 'vitest';
import { runNode, type RunningNode } from '../src/cli/run-node.js';
import type { LocalCluster } from '../src/localdb/cluster.js';
import { silentLogger } from '../src/util/log.js';
import { FuzzSession, prng } from './helpers/fuzz-session.js';
import { testNodeConfig } from './helpers/node.js';
import { startTestCluster } from './helpers/pg.js';
import { TestWindow } from './helpers/test-window.js';

/**
 * Differential fuzz of the gate: several sessions send random but legal traffic through quietcut
 * while windows (hold and reject, one or two partitions) open and close on the node's real gate.
 * Truth comes from the server:
 *  - between a window's drain and its end, nothing new commits into its partitions (the cut is
 *    the same whenever it is taken: no write slipped past the gate);
 *  - every row the client saw committed before a window began is in its cut;
 *  - at the end, the rows in the table are exactly the rows the clients were told are committed
 *    (nothing rejected committed, nothing acknowledged is missing).
 * FUZZ_SEED repeats a run; FUZZ_STATEMENTS sets its size (bench/gate-fuzz.sh runs larger ones).
 */
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const STATEMENTS = Number(process.env.FUZZ_STATEMENTS ?? 10_000);
const SESSIONS = 6;
const PARTITIONS = 4;

let cluster: LocalCluster;
let node: RunningNode;

beforeAll(async () => {
  cluster = await startTestCluster({ settings: { max_prepared_transactions: 20 } });
  const parts = Array.from({ length: PARTITIONS }, (_, i) => `CREATE TABLE f_${i} PARTITION OF f FOR VALUES IN (${i});`).join('\n');
  await cluster.query(`CREATE TABLE f (id bigint NOT NULL, p int NOT NULL) PARTITION BY LIST (p); ${parts}`, [], 'demo');
  node = await runNode(testNodeConfig(cluster.url('demo')), silentLogger);
});
afterAll(async () => {
  await node?.stop();
  await cluster?.stop();
});

interface WindowFact {
  partitions: number[];
  mode: 'hold' | 'reject';
  openedAt: number;
  atDrain: Set<number>;
  atEnd: Set<number>;
}

async function idsIn(partitions: number[]): Promise<Set<number>> {
  const { rows } = await cluster.query<{ id: string }>('select id::text from f where p = any($1)', [partitions], 'demo');
  return new Set(rows.map((r) => Number(r.id)));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test(`random legal traffic under windows: no leak, no rejected-but-committed write, no bad cut (seed ${SEED})`, async () => {
  const rand = prng(SEED);
  let id = 1;
  const sessions = Array.from({ length: SESSIONS }, (_, i) => new FuzzSession(i, prng(SEED + 1 + i), () => id++, PARTITIONS));
  for (const s of sessions) await s.open(node.proxy.address.port);
  const total = (): number => sessions.reduce((n, s) => n + s.statements, 0);
  const facts: WindowFact[] = [];
  let running = true;
  const windows = (async () => {
    while (running) {
      await sleep(5 + Math.floor(rand() * 40));
      const first = Math.floor(rand() * PARTITIONS);
      const partitions = rand() < 0.3 ? [first, (first + 1) % PARTITIONS] : [first];
      const mode = rand() < 0.5 ? 'hold' : 'reject';
      const w = new TestWindow(
        node.gate,
        partitions.map((p) => `public.f_${p}`),
        mode,
      );
      const openedAt = performance.now();
      w.open();
      try {
        await Promise.race([w.drained(), sleep(30_000).then(() => Promise.reject(new Error(`drain stuck (seed ${SEED})`)))]);
        const atDrain = await idsIn(partitions);
        await sleep(2 + Math.floor(rand() * 25));
        const atEnd = await idsIn(partitions);
        facts.push({ partitions, mode, openedAt, atDrain, atEnd });
      } finally {
        w.close();
      }
    }
  })();
  const clients = sessions.map(async (s) => {
    while (total() < STATEMENTS) await s.batch();
  });
  try {
    await Promise.all(clients);
  } catch (err) {
    throw new Error(`${(err as Error).message}\nsessions: ${[...node.proxy.sessions].map((s) => s.describe()).join('\n  ')}`);
  } finally {
    running = false;
    await windows;
    for (const s of sessions) s.close();
  }

  const seed = `seed ${SEED}`;
  // which session and which kind of unit (fuzz-session.ts unit()) wrote each row, for a failure
  const who = (ids: number[]): string =>
    ids
      .map((x) => {
        const s = sessions.find((y) => y.unitOf.has(x));
        return `${x}: session ${s?.n ?? '?'} unit ${s?.unitOf.get(x) ?? '?'}`;
      })
      .join('; ');
  expect(total(), seed).toBeGreaterThanOrEqual(STATEMENTS);
  expect(facts.length, seed).toBeGreaterThan(0);
  // 1. no write slipped past a window: its partitions were the same at its drain and at its end
  for (const f of facts) {
    const leaked = [...f.atEnd].filter((x) => !f.atDrain.has(x));
    expect(leaked, `${seed}: committed inside a ${f.mode} window on f_${f.partitions.join(',f_')} (${who(leaked)})`).toEqual([]);
  }
  // 2. every row acknowledged committed before a window began is in that window's cut
  const ackedAt = new Map<number, number>();
  const partitionOf = new Map<number, number>();
  for (const s of sessions) {
    for (const [k, v] of s.committed) ackedAt.set(k, v);
    for (const [k, v] of s.partitionOf) partitionOf.set(k, v);
  }
  for (const f of facts) {
    const missing = [...ackedAt].filter(([x, at]) => at < f.openedAt && f.partitions.includes(partitionOf.get(x)!) && !f.atDrain.has(x)).map(([x]) => x);
    expect(missing, `${seed}: acknowledged before the window, missing from its cut`).toEqual([]);
  }
  // 3. what the clients were told is what the server did
  const { rows } = await cluster.query<{ id: string }>('select id::text from f', [], 'demo');
  const truth = new Set(rows.map((r) => Number(r.id)));
  const toldCommitted = new Set(ackedAt.keys());
  const unacked = [...truth].filter((x) => !toldCommitted.has(x)).sort((a, b) => a - b);
  expect(unacked, `${seed}: committed but not acknowledged (rejected or failed): ${who(unacked)}`).toEqual([]);
  const lost = [...toldCommitted].filter((x) => !truth.has(x)).sort((a, b) => a - b);
  expect(lost, `${seed}: acknowledged but not committed: ${who(lost)}`).toEqual([]);
  // nothing left prepared, nothing left in flight
  const prepared = await cluster.query<{ n: number }>('select count(*)::int n from pg_prepared_xacts', [], 'demo');
  expect(prepared.rows[0]!.n, seed).toBe(0);
  for (let p = 0; p < PARTITIONS; p++) expect(node.gate.inflightCount(`public.f_${p}`), seed).toBe(0);
  const rejected = sessions.reduce((n, s) => n + s.rejected, 0);
  console.log(`gate fuzz (${seed}): ${total()} statements, ${truth.size} rows committed, ${facts.length} windows, ${rejected} rejections`);
  expect(rejected, seed).toBeGreaterThan(0);
}, Number(process.env.FUZZ_TIMEOUT_MS ?? 300_000));
