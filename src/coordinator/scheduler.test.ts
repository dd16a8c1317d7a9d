import { describe, expect, test } from 'vitest';
import type pg from 'pg';
import { configSchema } from '../config/schema.js';
import { Metrics } from '../metrics/registry.js';
import type { BackupRunResult } from './backup-run.js';
import { PlanScheduler } from './scheduler.js';

describe('PlanScheduler without a plan', () => {
  test('planner.enabled false: every managed partition is backed up at each schedule tick, and nothing touches the database', async () => {
    const calls: { partitions: readonly string[]; trigger: string }[] = [];
    const noDb = new Proxy({}, { get: () => { throw new Error('the unplanned schedule must not use the database'); } }) as pg.Pool;
    const s = new PlanScheduler({
      // node-cron's optional seconds field: a tick every second keeps the test short.
      config: configSchema.parse({ planner: { enabled: false }, backup: { schedule: '* * * * * *' } }),
      pool: noDb,
      target: { host: '127.0.0.1', port: 1, user: 'x', database: 'x' },
      node: 'test',
      metrics: new Metrics(),
      leaves: () => [
        { name: 'public.a', root: 'public.t', foreignServer: null },
        { name: 'public.b', root: 'public.t', foreignServer: null },
      ],
      backup: (partitions, o) => {
        calls.push({ partitions, trigger: o.trigger });
        return Promise.resolve({ runId: 'r', runDir: '/tmp', status: 'good', partitions: [] } as BackupRunResult);
      },
    });
    expect(s.mode).toBe('unplanned');
    await s.start();
    const deadline = Date.now() + 3_000;
    while (calls.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await s.stop();
    expect(calls[0]).toEqual({ partitions: ['public.a', 'public.b'], trigger: 'schedule' });
  });

  test('planned without planAt or schedule: inert (backups only on demand)', async () => {
    const noDb = new Proxy({}, { get: () => { throw new Error('no database use expected'); } }) as pg.Pool;
    const s = new PlanScheduler({
      config: configSchema.parse({}),
      pool: noDb,
      target: { host: '127.0.0.1', port: 1, user: 'x', database: 'x' },
      node: 'test',
      metrics: new Metrics(),
      leaves: () => [],
      backup: () => Promise.reject(new Error('no backup expected')),
    });
    await s.start();
    expect(s.armedPlans()).toEqual([]);
    await s.stop();
  });
});
