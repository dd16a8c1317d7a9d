import { describe, expect, test } from 'vitest';
import { nonMvccWrite, unknownWrite, type HeldRequest } from '../proxy/gate.js';
import { WindowGate } from './gate.js';
import { GroupWindow, type Pin, type PreparedPin } from './window.js';

const NONE: ReadonlySet<string> = new Set();

/** A request as the session parks it: records when the window lets it go. */
function request(log: string[], name: string): HeldRequest {
  return { bytes: 10, heldAtMs: performance.now(), release: () => log.push(name) };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A pin whose export waits until the test says `cut`. */
const pinAt = (cut: Promise<void>): PreparedPin => ({
  take: async (): Promise<Pin> => {
    await cut;
    return { snapshotId: '00000003-00000002-1', lsn: '0/1', close: () => Promise.resolve() };
  },
  cancel: () => Promise.resolve(),
});

/**
 * A window over public.a whose dump signals `locked` when told to and finishes when told to; each
 * step waits for the test, so the order of events is the test's, not the scheduler's.
 */
function windowOn(gate: WindowGate, mode: 'hold' | 'reject' = 'hold') {
  const cut = deferred();
  const pinned = deferred();
  const lock = deferred();
  const finish = deferred();
  const w = new GroupWindow({
    group: 'g',
    partitions: ['public.a'],
    mode,
    release: 'after-snapshot',
    maxHoldMs: 60_000,
    maxQueuedRequests: 100,
    maxQueuedBytes: 1 << 20,
    rejectSqlState: '55P03',
    gate,
    preparePin: new Map([['(fronted)', () => Promise.resolve(pinAt(cut.promise))]]),
    dump: async (_pins, _signal, locked) => {
      pinned.resolve();
      await lock.promise;
      locked();
      await finish.promise;
    },
  });
  const pin = (): Promise<void> => {
    cut.resolve();
    return pinned.promise;
  };
  return { w, pin, lock: lock.resolve, finish: finish.resolve };
}

async function untilHolding(gate: WindowGate): Promise<void> {
  while (!gate.isHeld('public.a')) await new Promise((r) => setImmediate(r));
}

/** What the session does with a decision: park, reject or pass. */
function submit(gate: WindowGate, visible: string[], log: string[], name: string, heldAtMs = performance.now()): 'held' | 'passed' | 'rejected' {
  const d = gate.decide(new Set(visible), false, NONE);
  if (d.action === 'pass') {
    log.push(name);
    return 'passed';
  }
  if (d.action === 'reject') return 'rejected';
  const req: HeldRequest = {
    bytes: 10,
    heldAtMs,
    // released: the session decides again, as session.ts does (keeping when it was first held)
    release: () => void submit(gate, visible, log, name, heldAtMs),
  };
  expect(d.enqueue(req)).toBe(true);
  return 'held';
}

describe('WindowGate markers', () => {
  test('no window: markers pass and the gate is inactive', () => {
    const gate = new WindowGate();
    expect(gate.active).toBe(false);
    expect(gate.decide(new Set([unknownWrite('do_block'), nonMvccWrite('public.a')]), false, NONE)).toEqual({ action: 'pass' });
  });

  test('a non-MVCC statement waits past the pin until the dump holds its lock; ordinary writes go at the pin', async () => {
    const gate = new WindowGate();
    const reasons: string[] = [];
    gate.onFailClosed = (r) => reasons.push(r);
    const { w, pin, lock, finish } = windowOn(gate);
    const running = w.run();
    await untilHolding(gate);
    const log: string[] = [];
    expect(submit(gate, ['public.a'], log, 'insert')).toBe('held');
    expect(submit(gate, ['public.a', nonMvccWrite('public.a')], log, 'truncate')).toBe('held');
    expect(submit(gate, [unknownWrite('do_block')], log, 'do')).toBe('held');
    expect(submit(gate, ['public.b'], log, 'other partition')).toBe('passed');
    await pin();
    // released at the pin: the insert runs; the truncate and the DO block wait for the locks
    expect(log).toEqual(['other partition', 'insert']);
    expect(gate.isHeld('public.a')).toBe(false);
    expect(gate.isFenced('public.a')).toBe(true);
    expect(gate.active).toBe(true);
    // a new TRUNCATE after the pin is fenced too, an ordinary write passes
    expect(submit(gate, [nonMvccWrite(null)], log, 'truncate cascade')).toBe('held');
    expect(submit(gate, ['public.a'], log, 'insert after pin')).toBe('passed');
    lock();
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['other partition', 'insert', 'insert after pin', 'truncate', 'do', 'truncate cascade']);
    expect(gate.active).toBe(false);
    finish();
    expect((await running).state).toBe('dumped');
    // the TRUNCATE is counted when the pin moves it from the partition's queue to the fence
    expect(reasons.sort()).toEqual(['do_block', 'non_mvcc', 'non_mvcc']);
  });

  test('reject mode: fenced statements are rejected with the window SQLSTATE', async () => {
    const gate = new WindowGate();
    const { w, pin, lock, finish } = windowOn(gate, 'reject');
    const running = w.run();
    await untilHolding(gate);
    const d = gate.decide(new Set([nonMvccWrite('public.a')]), false, NONE);
    expect(d.action).toBe('reject');
    if (d.action === 'reject') expect(d.error.sqlState).toBe('55P03');
    await pin();
    expect(gate.decide(new Set([unknownWrite('function')]), false, NONE).action).toBe('reject');
    lock();
    finish();
    await running;
    expect(gate.decide(new Set([unknownWrite('function')]), false, NONE)).toEqual({ action: 'pass' });
  });

  test('an aborted window releases fenced requests too', async () => {
    const gate = new WindowGate();
    const { w, pin } = windowOn(gate);
    const running = w.run();
    await untilHolding(gate);
    const log: string[] = [];
    expect(submit(gate, [nonMvccWrite('public.a')], log, 'truncate')).toBe('held');
    await pin();
    expect(log).toEqual([]);
    w.abort('test');
    expect((await running).state).toBe('aborted');
    expect(log).toEqual(['truncate']);
    expect(gate.active).toBe(false);
  });

  test('the drain waits for requests of unknown write set, whatever the window', async () => {
    const gate = new WindowGate();
    const unknown = new Set([unknownWrite('fast_path_call')]);
    gate.inflightAdd(unknown);
    let drained = false;
    const wait = gate.waitDrained(new Set(['public.a'])).then(() => (drained = true));
    await new Promise((r) => setImmediate(r));
    expect(drained).toBe(false);
    expect(gate.inflightCount('public.a')).toBe(1);
    gate.inflightDone(unknown);
    await wait;
    expect(drained).toBe(true);
    expect(gate.inflightCount('public.a')).toBe(0);
  });

  test('the rest of a request already in flight with an unknown write set is admitted (its drain waits for it)', async () => {
    const gate = new WindowGate();
    const { w, pin, lock, finish } = windowOn(gate);
    const running = w.run();
    await untilHolding(gate);
    expect(gate.decide(new Set(['public.a']), false, new Set([unknownWrite('do_block')]))).toEqual({ action: 'pass' });
    expect(gate.decide(new Set(['public.a']), false, new Set(['public.z'])).action).toBe('hold');
    const log: string[] = [];
    // and one that was not: held
    expect(submit(gate, ['public.a'], log, 'x')).toBe('held');
    await pin();
    lock();
    finish();
    await running;
    expect(log).toEqual(['x']);
  });
});

describe('requests released by a window re-decide', () => {
  test('one request per session: a held one is forgotten when its client goes', async () => {
    const gate = new WindowGate();
    const { w, pin, lock, finish } = windowOn(gate);
    const running = w.run();
    await untilHolding(gate);
    const log: string[] = [];
    const d = gate.decide(new Set([nonMvccWrite('public.a')]), false, NONE);
    expect(d.action).toBe('hold');
    const req = request(log, 'gone');
    if (d.action === 'hold') expect(d.enqueue(req)).toBe(true);
    expect(gate.queuedRequests()).toBe(1);
    gate.forget(req);
    expect(gate.queuedRequests()).toBe(0);
    await pin();
    lock();
    finish();
    await running;
    expect(log).toEqual([]);
  });
});
