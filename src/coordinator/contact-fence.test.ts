import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { GateDecision, HeldRequest } from '../proxy/gate.js';
import { WindowGate } from '../windows/gate.js';
import { Pause } from '../windows/pause.js';
import { ContactFence, watchContact, type ContactMembership } from './contact-fence.js';
import { silentLogger } from '../util/log.js';

const NONE: ReadonlySet<string> = new Set();
const PARTS = ['public.a', 'public.b'];

/** Park a request the way a session does: on release it asks the gate again. */
function park(gate: WindowGate, partition: string, log: string[], name: string): GateDecision {
  const d = gate.decide(new Set([partition]), false, NONE);
  if (d.action !== 'hold') return d;
  const req: HeldRequest = {
    bytes: 10,
    heldAtMs: performance.now(),
    release: () => {
      const again = gate.decide(new Set([partition]), false, NONE);
      if (again.action === 'hold') again.enqueue(req);
      log.push(`${name}:${again.action}`);
    },
  };
  expect(d.enqueue(req)).toBe(true);
  return d;
}

describe('ContactFence', () => {
  let gate: WindowGate;
  let fence: ContactFence;
  beforeEach(() => {
    vi.useFakeTimers();
    gate = new WindowGate();
    fence = new ContactFence({ gate, partitions: () => PARTS, budgetMs: 10_000, maxQueuedRequests: 10, maxQueuedBytes: 1000, sweepMs: 100 });
  });
  afterEach(() => {
    fence.stop();
    vi.useRealTimers();
  });

  test('out of contact, every partition is held; back in contact, held writes go on, oldest first', () => {
    expect(gate.decide(new Set(['public.a']), false, NONE).action).toBe('pass');
    fence.raise();
    const log: string[] = [];
    expect(park(gate, 'public.b', log, 'first').action).toBe('hold');
    expect(park(gate, 'public.a', log, 'second').action).toBe('hold');
    vi.advanceTimersByTime(5000);
    expect(log).toEqual([]);
    fence.lower();
    expect(log).toEqual(['first:pass', 'second:pass']);
    expect(gate.active).toBe(false);
  });

  test('a window that starts while the fence is up takes its partition over; what the fence held there stays held by the window', () => {
    fence.raise();
    const log: string[] = [];
    park(gate, 'public.a', log, 'early');
    const w = new Pause({ partitions: ['public.a'], timeoutMs: 60_000, maxQueuedRequests: 10, maxQueuedBytes: 1000, gate });
    w.start(); // would throw "already held by another window" if the fence did not yield
    fence.lower();
    expect(log).toEqual(['early:hold']);
    expect(gate.decide(new Set(['public.b']), false, NONE).action).toBe('pass');
    expect(gate.decide(new Set(['public.a']), false, NONE).action).toBe('hold');
    w.end('resumed');
    expect(log).toEqual(['early:hold', 'early:pass']);
  });

  test('a partition a window holds when contact is lost is the window\'s; when that window ends out of contact, the fence takes it', () => {
    const w = new Pause({ partitions: ['public.a'], timeoutMs: 60_000, maxQueuedRequests: 10, maxQueuedBytes: 1000, gate });
    w.start();
    fence.raise();
    expect(gate.holderOf('public.a')).toBe(w);
    expect(gate.holderOf('public.b')).toBe(fence);
    w.end('resumed');
    expect(gate.decide(new Set(['public.a']), false, NONE).action).toBe('pass'); // until the next sweep
    vi.advanceTimersByTime(100);
    expect(gate.holderOf('public.a')).toBe(fence);
    expect(gate.decide(new Set(['public.a']), false, NONE).action).toBe('hold');
  });

  test('past the budget, out of contact: what was held and what comes is refused with 55P03, never admitted', () => {
    fence.raise();
    const log: string[] = [];
    park(gate, 'public.a', log, 'held');
    vi.advanceTimersByTime(9999);
    expect(log).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(log).toEqual(['held:reject']);
    const d = gate.decide(new Set(['public.b']), false, NONE);
    expect(d.action).toBe('reject');
    expect(d.action === 'reject' && d.error.sqlState).toBe('55P03');
    expect(d.action === 'reject' && d.error.message).toMatch(/out of contact with its database since/);
    fence.lower();
    expect(gate.decide(new Set(['public.b']), false, NONE).action).toBe('pass');
  });

  test('a request whose write set is unknown is held too', () => {
    fence.raise();
    const d = gate.decide(new Set(['\0unknown:function']), false, NONE);
    expect(d.action).toBe('hold');
  });
});

/** A membership whose trust the test sets: a renewal at `renewedAt` (fake time) with a 4 s lease. */
class FakeMembership implements ContactMembership {
  readonly leaseMs = 4000;
  live: ContactMembership['live'] = [{ node: 'me', offsetMs: 0, uncertaintyMs: 0, minClientRttMs: null }];
  renewedAt = Date.now();
  private readonly fs: Array<(t: boolean) => void> = [];
  get trusted(): boolean {
    return Date.now() < this.renewedAt + this.leaseMs / 2;
  }
  onTrustChange(f: (t: boolean) => void): void {
    this.fs.push(f);
  }
  leaseRunsOutInMs(): number {
    return Math.max(0, this.renewedAt + this.leaseMs - Date.now());
  }
  /** Half a lease after the last renewal, as membership.ts's trust timer fires. */
  loseTrust(): void {
    vi.setSystemTime(this.renewedAt + this.leaseMs / 2);
    for (const f of this.fs) f(false);
  }
  renew(): void {
    this.renewedAt = Date.now();
    for (const f of this.fs) f(true);
  }
}

describe('watchContact', () => {
  let gate: WindowGate;
  let fence: ContactFence;
  let m: FakeMembership;
  let unwatch: () => void;
  const refresh = async (): Promise<boolean> => true;
  const writeTo = (p: string): string => gate.decide(new Set([p]), false, NONE).action;
  beforeEach(() => {
    vi.useFakeTimers();
    gate = new WindowGate();
    fence = new ContactFence({ gate, partitions: () => PARTS, budgetMs: 60_000, maxQueuedRequests: 10, maxQueuedBytes: 1000, sweepMs: 100 });
    m = new FakeMembership();
    unwatch = watchContact(m, { refresh }, fence, 'me', 50, silentLogger);
  });
  afterEach(() => {
    unwatch();
    fence.stop();
    vi.useRealTimers();
  });

  test('another node was live: every partition is held the moment trust is lost', () => {
    m.live = [...m.live, { node: 'other', offsetMs: 0, uncertaintyMs: 0, minClientRttMs: null }];
    m.loseTrust();
    expect(fence.active).toBe(true);
    expect(writeTo('public.a')).toBe('hold');
  });

  test('alone: writes still pass while no node that starts could treat this one as gone, and are held a quarter lease before its lease may run out on the server', () => {
    m.loseTrust();
    expect(fence.active).toBe(false);
    expect(writeTo('public.a')).toBe('pass');
    vi.advanceTimersByTime(m.leaseMs / 4 - 1);
    expect(writeTo('public.a')).toBe('pass');
    vi.advanceTimersByTime(1);
    expect(fence.active).toBe(true);
    expect(writeTo('public.a')).toBe('hold');
    // The lease runs out a quarter lease later: held well before.
    expect(m.leaseRunsOutInMs()).toBe(m.leaseMs / 4);
  });

  test('alone, back in contact before then: nothing was ever held', async () => {
    m.loseTrust();
    vi.advanceTimersByTime(m.leaseMs / 8);
    m.renew();
    vi.advanceTimersByTime(10 * m.leaseMs);
    expect(fence.active).toBe(false);
    expect(writeTo('public.a')).toBe('pass');
  });

  test('alone, held once out of contact long enough, and let go once back and the open windows are read', async () => {
    m.loseTrust();
    vi.advanceTimersByTime(m.leaseMs);
    expect(fence.active).toBe(true);
    m.renew();
    await vi.advanceTimersByTimeAsync(0);
    expect(fence.active).toBe(false);
    expect(writeTo('public.a')).toBe('pass');
  });

  test('a node shutting down raises nothing after it stopped watching', () => {
    m.loseTrust();
    unwatch();
    vi.advanceTimersByTime(m.leaseMs);
    expect(fence.active).toBe(false);
  });
});
