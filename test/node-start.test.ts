import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig } from '../src/config/load.js';
import { runNode } from '../src/cli/run-node.js';
import { findPgBinDir } from '../src/localdb/binaries.js';
import type { LocalCluster } from '../src/localdb/cluster.js';
import { silentLogger } from '../src/util/log.js';
import { startTestCluster } from './helpers/pg.js';

let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await startTestCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

function pgCtl(action: 'stop' | 'start'): void {
  const args = action === 'stop' ? ['-D', cluster.dataDir, '-m', 'fast', '-w', 'stop'] : ['-D', cluster.dataDir, '-l', join(cluster.baseDir, 'postgres.log'), '-w', '-o', `-p ${cluster.port}`, 'start'];
  const asPostgres = process.getuid?.() === 0;
  const r = asPostgres
    ? spawnSync('runuser', ['-u', 'postgres', '--', join(findPgBinDir(), 'pg_ctl'), ...args], { encoding: 'utf8' })
    : spawnSync(join(findPgBinDir(), 'pg_ctl'), args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pg_ctl ${action}: ${r.stderr}`);
}

describe('starting a node', () => {
  test('waits for a database that is still starting, then serves', async () => {
    pgCtl('stop');
    const config = loadConfig({ env: {}, overrides: { upstream: { url: cluster.url('demo'), startWaitMs: 30_000 }, listen: '127.0.0.1:0', metrics: { listen: null } } });
    const starting = runNode(config, silentLogger);
    await new Promise((r) => setTimeout(r, 1500));
    pgCtl('start');
    const node = await starting;
    try {
      const c = new pg.Client({ connectionString: node.connectionString });
      await c.connect();
      expect((await c.query("insert into orders (region, amount) values ('eu', 1) returning tableoid::regclass::text t")).rows[0].t).toBe('orders_eu');
      await c.end();
    } finally {
      await node.stop();
    }
  });

  test('a database that does not exist fails at once with a clear message', async () => {
    const config = loadConfig({ env: {}, overrides: { upstream: { url: cluster.url('no_such_db') }, listen: '127.0.0.1:0', metrics: { listen: null } } });
    const started = Date.now();
    await expect(runNode(config, silentLogger)).rejects.toThrow(/cannot reach the managed database no_such_db .*does not exist/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
