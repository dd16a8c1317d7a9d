import { describe, expect, test } from 'vitest';
import { WindowGate } from './gate.js';
import { GroupWindow, type Pin, type PreparedPin, type ReleaseRule, type WindowOptions } from './window.js';

/**
 * Issue 15 item 2: no code path leaves a window without a release or an abort. Each way a window
 * can end is driven here with a real gate and fake pins/dumps; after each, nothing is held or
 * fenced and every request it queued was let go.
 */
function pins(fail: 'prepare' | 'take' | 'close' | null): Map<string, (s: AbortSignal) => Promise<PreparedPin>> {
  const pin: Pin = { snapshotId: '00000003-00000002-1', lsn: '0/1', close: () => (fail === 'close' ? Promise.reject(new Error('commit failed')) : Promise.resolve()) };
  const prepared: PreparedPin = { take: () => (fail === 'take' ? Promise.reject(new Error('export failed')) : Promise.resolve(pin)), cancel: () => Promise.resolve() };
  return new Map([['(fronted)', () => (fail === 'prepare' ? Promise.reject(new Error('cannot connect')) : Promise.resolve(prepared))]]);
}

interface Case {
  name: string;
  release: ReleaseRule;
  pin: 'prepare' | 'take' | 'close' | null;
  dump: (signal: AbortSignal) => Promise<void>;
  maxHoldMs?: number;
  inflight?: boolean;
  state: 'dumped' | 'aborted';
}

const never = (signal: AbortSignal): Promise<void> => new Promise((_r, reject) => signal.addEventListener('abort', () => reject(new Error('stopped')), { once: true }));
const cases: Case[] = [
  { name: 'the pin cannot be prepared', release: 'after-snapshot', pin: 'prepare', dump: () => Promise.resolve(), state: 'aborted' },
  { name: 'the export fails at the cut', release: 'after-dump', pin: 'take', dump: () => Promise.resolve(), state: 'aborted' },
  { name: 'the dump throws (after-dump)', release: 'after-dump', pin: null, dump: () => Promise.reject(new Error('pg_dump killed')), state: 'aborted' },
  { name: 'the dump throws (after-snapshot)', release: 'after-snapshot', pin: null, dump: () => Promise.reject(new Error('pg_dump killed')), state: 'aborted' },
  { name: 'the budget runs out while draining', release: 'after-snapshot', pin: null, dump: () => Promise.resolve(), maxHoldMs: 30, inflight: true, state: 'aborted' },
  { name: 'the budget runs out during an after-dump dump', release: 'after-dump', pin: null, dump: never, maxHoldMs: 30, state: 'aborted' },
  { name: 'closing the export fails after the dump', release: 'after-dump', pin: 'close', dump: () => Promise.resolve(), state: 'aborted' },
  { name: 'all goes well (after-dump)', release: 'after-dump', pin: null, dump: () => Promise.resolve(), state: 'dumped' },
  { name: 'all goes well (after-snapshot)', release: 'after-snapshot', pin: null, dump: () => Promise.resolve(), state: 'dumped' },
];

describe('every exit of a window releases', () => {
  for (const c of cases) {
    test(`${c.name}: ${c.state}, nothing held, every queued request let go`, async () => {
      const gate = new WindowGate();
      if (c.inflight) gate.inflightAdd(new Set(['public.p']));
      let released = 0;
      let queued = 0;
      const opts: WindowOptions = {
        group: 'g',
        partitions: ['public.p'],
        mode: 'hold',
        release: c.release,
        maxHoldMs: c.maxHoldMs ?? 60_000,
        maxQueuedRequests: 10,
        maxQueuedBytes: 1 << 20,
        rejectSqlState: '55P03',
        gate,
        preparePin: pins(c.pin),
        dump: async (_p, signal, locked) => {
          // A write arrives during the dump: queued when after-dump still holds, refused (it may pass) after-snapshot.
          if (w.enqueue('public.p', { bytes: 10, heldAtMs: performance.now(), release: () => released++ })) queued++;
          locked();
          await c.dump(signal);
        },
      };
      const w = new GroupWindow(opts);
      const out = await w.run();
      expect(out.state).toBe(c.state);
      expect(gate.active).toBe(false);
      expect(gate.isHeld('public.p')).toBe(false);
      expect(gate.isFenced('public.p')).toBe(false);
      expect(queued).toBe(c.release === 'after-dump' && c.pin !== 'prepare' && c.pin !== 'take' && !c.inflight ? 1 : 0);
      expect(released).toBe(queued);
      expect(out.releasedAt === null ? c.pin === 'prepare' : true).toBe(true);
    });
  }

  test('an unknown release rule or mode never opens a window', () => {
    const base = { group: 'g', partitions: ['public.p'], maxHoldMs: 1000, maxQueuedRequests: 1, maxQueuedBytes: 1, rejectSqlState: '55P03', gate: new WindowGate(), preparePin: pins(null), dump: () => Promise.resolve() };
    expect(() => new GroupWindow({ ...base, mode: 'hold', release: 'after-lunch' as ReleaseRule })).toThrow(/unknown release rule "after-lunch"/);
    expect(() => new GroupWindow({ ...base, mode: 'stall' as 'hold', release: 'after-dump' })).toThrow(/unknown window mode "stall"/);
  });
});
