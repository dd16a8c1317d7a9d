import { describe, expect, it } from 'vitest';
import { planRetention, type RetentionRun } from './retention.js';

type P = RetentionRun['partitions'][number];
const good = (partition: string, prunedAt: string | null = null): P => ({ partition, status: 'good', file: `${partition}.dump`, prunedAt });
const failed = (partition: string): P => ({ partition, status: 'failed', file: null, prunedAt: null });
const run = (runId: string, partitions: P[], status: RetentionRun['status'] = 'good'): RetentionRun => ({ runId, status, partitions });

describe('planRetention', () => {
  it('keeps the newest N good backups per partition, independently per partition', () => {
    const runs = [
      run('r1', [good('a'), good('b')]),
      run('r2', [good('a')]),
      run('r3', [good('a'), good('b')]),
      run('r4', [good('a')]),
    ];
    const plan = planRetention(runs, 2);
    expect(plan.prune).toEqual([
      { runId: 'r2', partition: 'a', file: 'a.dump' },
      { runId: 'r1', partition: 'a', file: 'a.dump' },
    ]);
    // r1 still holds b, one of b's two newest: it stays.
    expect(plan.removeRuns).toEqual(['r2']);
  });

  it('never removes the only copy of a partition without a newer good backup', () => {
    const runs = [run('r1', [good('a'), good('b')]), run('r2', [good('a'), failed('b')]), run('r3', [good('a'), failed('b')])];
    const plan = planRetention(runs, 1);
    expect(plan.prune).toEqual([
      { runId: 'r2', partition: 'a', file: 'a.dump' },
      { runId: 'r1', partition: 'a', file: 'a.dump' },
    ]);
    // r1 keeps b; r2 has only b's failure left, which is newer than b's last good: kept as a record.
    expect(plan.removeRuns).toEqual([]);
  });

  it('removes failed entries once a newer good backup is kept; counts only good ones', () => {
    const runs = [run('r1', [failed('a')], 'failed'), run('r2', [good('a')]), run('r3', [failed('a')], 'failed')];
    const plan = planRetention(runs, 1);
    expect(plan.prune).toEqual([]);
    expect(plan.removeRuns).toEqual(['r1']);
  });

  it('leaves running runs alone and skips already pruned artifacts', () => {
    const runs = [run('r1', [good('a', '2026-11-01T00:00:00Z')]), run('r2', [good('a')]), run('r3', [good('a')], 'running')];
    const plan = planRetention(runs, 1);
    expect(plan.prune).toEqual([]);
    expect(plan.removeRuns).toEqual(['r1']);
  });

  it('requires keep >= 1', () => {
    expect(() => planRetention([], 0)).toThrow(/keep/);
  });
});
