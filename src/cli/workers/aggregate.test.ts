import { describe, expect, test } from 'vitest';
import { Metrics } from '../../metrics/registry.js';
import type { PartitionStatus } from '../node-status.js';
import { mergeStatus, sumMetrics } from './aggregate.js';

const line = (text: string, series: string): number | undefined => {
  const l = text.split('\n').find((x) => x.startsWith(`${series} `));
  return l === undefined ? undefined : Number(l.slice(series.length + 1));
};

describe('sumMetrics', () => {
  test('counters and per-process gauges add up over workers; a gauge every worker states alike is not multiplied', async () => {
    const [a, b] = [new Metrics(), new Metrics()];
    a.heldWrites.labels('public.p').inc(2);
    b.heldWrites.labels('public.p').inc(3);
    a.clientConnections.set(4);
    b.clientConnections.set(1);
    a.windowState.labels('public.p').set(2);
    b.windowState.labels('public.p').set(2);
    const s = await sumMetrics([await a.registry.getMetricsAsJSON(), await b.registry.getMetricsAsJSON()]);
    expect(line(s.text, 'quietcut_held_writes_total{partition="public.p"}')).toBe(5);
    expect(line(s.text, 'quietcut_client_connections')).toBe(5);
    expect(line(s.text, 'quietcut_window_state{partition="public.p"}')).toBe(2);
    expect(s.text).toMatch(/^quietcut_build_info\{[^}]*\} 1$/m);
    expect(s.contentType).toMatch(/^text\/plain/);
  });
});

const part = (partition: string, o: Partial<PartitionStatus> = {}): PartitionStatus => ({
  partition,
  table: 'public.t',
  writesPerSec: 0,
  writesTotal: 0,
  window: 'idle',
  nextWindowAt: null,
  heldLast: 0,
  heldTotal: 0,
  windows: 0,
  lastBackup: null,
  ...o,
});

describe('mergeStatus', () => {
  test('one row per partition over the workers (traffic summed, the window step whichever is not idle, the latest backup), and every worker listed', () => {
    const m = mergeStatus([
      { slot: 0, pid: 10, status: { node: 'h:1/w0', listen: '127.0.0.1:1', upstream: 'db:5432', clients: 3, partitions: [part('public.b', { writesPerSec: 1, writesTotal: 10, heldTotal: 1, windows: 2 }), part('public.a')] } },
      {
        slot: 1,
        pid: 11,
        status: {
          node: 'h:1/w1',
          clients: 2,
          partitions: [part('public.b', { writesPerSec: 2, writesTotal: 5, window: 'holding', heldTotal: 4, windows: 2, nextWindowAt: 50, lastBackup: { at: 7, status: 'good', runDir: 'r', bytes: 1, windowMs: 2 } })],
        },
      },
    ]);
    expect(m.clients).toBe(5);
    expect(m.listen).toBe('127.0.0.1:1');
    expect(m.workers).toEqual([
      { slot: 0, node: 'h:1/w0', pid: 10, clients: 3 },
      { slot: 1, node: 'h:1/w1', pid: 11, clients: 2 },
    ]);
    expect(m.partitions!.map((p) => p.partition)).toEqual(['public.a', 'public.b']);
    expect(m.partitions![1]).toMatchObject({ writesPerSec: 3, writesTotal: 15, window: 'holding', heldTotal: 5, windows: 2, nextWindowAt: 50, lastBackup: { at: 7 } });
  });
});
