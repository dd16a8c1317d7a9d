import { describe, expect, test } from 'vitest';
import { hostRows, mergeRows, reviveRows, type MergeRule } from './console-host-rows.js';

const rules: MergeRule[] = ['key', 'same', 'busy', 'sum', 'max', 'min', 'last', 'last', 'last', 'sum', 'max', 'sum'];
const LAST_AT = 7;
const t = (iso: string): Date => new Date(iso);

describe('SHOW WINDOWS rows over workers', () => {
  test('one row per partition: held adds up, the window state is the busy one, next is the soonest, the last window is the latest one whole', () => {
    const w0 = ['public.a', 'public.t', 'idle', 1, null, t('2026-12-03T10:00:00Z'), 'good', t('2026-12-03T09:00:00Z'), 120, 5, 3, 40];
    const w1 = ['public.a', 'public.t', 'holding', 2, t('2026-12-03T09:30:00Z'), t('2026-12-03T09:50:00Z'), 'aborted', t('2026-12-03T09:10:00Z'), 900, 7, 4, 60];
    const other = ['public.b', 'public.t', 'idle', 0, null, null, null, null, null, 0, 0, 0];
    expect(mergeRows([w0, other, w1], rules, LAST_AT)).toEqual([
      ['public.a', 'public.t', 'holding', 3, t('2026-12-03T09:30:00Z'), t('2026-12-03T09:50:00Z'), 'aborted', t('2026-12-03T09:10:00Z'), 900, 12, 4, 100],
      other,
    ]);
  });

  test('a worker with no last window does not blank out another one that has it', () => {
    const had = ['public.a', 'public.t', 'idle', 0, null, null, 'good', t('2026-12-03T09:00:00Z'), 120, 5, 3, 40];
    const fresh = ['public.a', 'public.t', 'idle', 0, null, null, null, null, null, 0, 0, 0];
    expect(mergeRows([fresh, had], rules, LAST_AT)[0]!.slice(6, 9)).toEqual(['good', t('2026-12-03T09:00:00Z'), 120]);
    expect(mergeRows([had, fresh], rules, LAST_AT)[0]!.slice(6, 9)).toEqual(['good', t('2026-12-03T09:00:00Z'), 120]);
  });
});

describe('rows from other workers', () => {
  const columns = [
    { name: 'partition', type: 'text' as const },
    { name: 'at', type: 'timestamptz' as const },
  ];

  test('timestamps that crossed IPC as text are Dates again; text that looks like a date stays text', () => {
    expect(reviveRows(columns, [['2026-12-03T09:00:00.000Z', '2026-12-03T09:00:00.000Z']])).toEqual([['2026-12-03T09:00:00.000Z', t('2026-12-03T09:00:00Z')]]);
  });

  test("this worker's rows first, then the others'; workers that did not answer become notices", async () => {
    const got = await hostRows(async () => ({ rows: [['b', null]], failures: ['host:1/w1: no answer in 15000 ms'] }), 'SHOW X', columns, [['a', null]]);
    expect(got).toEqual({ rows: [['a', null], ['b', null]], notices: ['not listed: host:1/w1: no answer in 15000 ms'] });
    expect(await hostRows(async () => ({ rows: [], failures: [] }), 'SHOW X', columns, [['a', null]])).toEqual({ rows: [['a', null]] });
  });
});
