/**
 * 10,000 connect/disconnect cycles through quietcut (issue 2): resident memory and open sockets
 * before and after, and what the server still has open.
 *
 *   node --expose-gc --import tsx bench/connect-cycles.ts [cycles=10000] [parallel=8]
 */
import pg from 'pg';
import { readdirSync } from 'node:fs';
import { LocalCluster } from '../src/localdb/cluster.js';
import { ProxyServer } from '../src/proxy/server.js';

const cycles = Number(process.argv[2] ?? 10_000);
const parallel = Number(process.argv[3] ?? 8);

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}
function rssMiB(): number {
  return process.memoryUsage().rss / 1024 / 1024;
}

const cluster = await LocalCluster.start({ demo: true });
const proxy = new ProxyServer({
  listen: { host: '127.0.0.1', port: 0 },
  upstream: { host: cluster.host, port: cluster.port, connectTimeoutMs: 5000 },
  maxClientConnections: 1000,
  maxMessageBytes: 64 * 1024 * 1024,
  startupTimeoutMs: 5000,
  shutdownTimeoutMs: 1000,
});
await proxy.listen();
const url = `postgres://postgres@127.0.0.1:${proxy.address.port}/demo`;

async function cycle(i: number): Promise<void> {
  const c = new pg.Client({ connectionString: url, application_name: 'qc_cycles' });
  await c.connect();
  if (i % 2 === 0) await c.query('select 1');
  await c.end();
}

function heapMiB(): number {
  return process.memoryUsage().heapUsed / 1024 / 1024;
}
async function phase(): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < cycles) await cycle(next++);
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 500));
  global.gc?.();
  return secs;
}

// warm up, then two measured phases: a leak grows with every phase, a warm-up cost does not
for (let i = 0; i < 200; i++) await cycle(i);
global.gc?.();
const fd0 = openFds();
const rss0 = rssMiB();
const heap0 = heapMiB();
const secs = await phase();
const rssMid = rssMiB();
const heapMid = heapMiB();
await phase();
const fd1 = openFds();
const rss1 = rssMiB();
const heap1 = heapMiB();
const left = await cluster.query<{ n: number }>("select count(*)::int n from pg_stat_activity where application_name = 'qc_cycles'");
console.log(`${cycles} connect/disconnect cycles (${parallel} at a time) in ${secs.toFixed(1)} s (${(cycles / secs).toFixed(0)}/s)`);
console.log(`resident memory (proxy and the test clients share this process): ${rss0.toFixed(1)} MiB before, ${rssMid.toFixed(1)} after ${cycles}, ${rss1.toFixed(1)} after ${2 * cycles}`);
console.log(`JS heap in use after GC: ${heap0.toFixed(1)} MiB before, ${heapMid.toFixed(1)} after ${cycles}, ${heap1.toFixed(1)} after ${2 * cycles}`);
console.log(`open file descriptors in the proxy process: ${fd0} before, ${fd1} after`);
console.log(`sessions the proxy still tracks: ${proxy.sessions.size}; server connections counted: ${proxy.counters.serverConnections}; server backends left: ${left.rows[0]!.n}`);
await proxy.shutdown(100);
await cluster.stop();
