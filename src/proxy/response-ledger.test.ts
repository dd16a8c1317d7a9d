import { describe, expect, test } from 'vitest';
import { Owed, ResponseLedger } from './response-ledger.js';

function ledger(): { l: ResponseLedger; out: string[]; done: string[][] } {
  const out: string[] = [];
  const done: string[][] = [];
  const l = new ResponseLedger({ toClient: (b) => out.push(b.toString()), inflightDone: (p) => done.push([...p]) });
  return { l, out, done };
}
const set = (...p: string[]): ReadonlySet<string> => new Set(p);

describe('ResponseLedger', () => {
  test('server answers in order release their in-flight partitions; made-up answers wait their turn', () => {
    const { l, out, done } = ledger();
    l.owe(Owed.Server, 1, { inflight: set('a') });
    l.owe(Owed.Swallow, 2);
    l.owe(Owed.Swallow, 2, { inflight: set('b') });
    l.owe(Owed.Synthetic, 2, { bytes: Buffer.from('rejected') });
    expect(l.outstanding).toBe(3);
    expect(l.dropping).toBe(false);
    expect(l.answered()?.request).toBe(1);
    expect(done).toEqual([['a']]);
    l.flushSynthetic();
    expect(out).toEqual([]);
    expect(l.dropping).toBe(true);
    l.answered();
    l.flushSynthetic();
    expect(out).toEqual([]);
    l.answered();
    expect(done).toEqual([['a'], ['b']]);
    l.flushSynthetic();
    expect(out).toEqual(['rejected']);
    expect(l.empty).toBe(true);
    expect(l.outstanding).toBe(0);
  });

  test('a made-up answer with nothing owed before it goes out at once', () => {
    const { l, out } = ledger();
    l.owe(Owed.Synthetic, 1, { bytes: Buffer.from('now') });
    expect(out).toEqual(['now']);
    expect(l.empty).toBe(true);
  });

  test('extended COPY: Parse/Bind/Execute/Sync, then CopyData/CopyDone/Sync get one answer (entries already owed)', () => {
    const { l, done } = ledger();
    l.owe(Owed.Server, 1, { inflight: set('a') });
    l.owe(Owed.Server, 2, { copyEnds: 1 });
    l.owe(Owed.Server, 3, { inflight: set('c') });
    l.copyIn();
    expect(l.outstanding).toBe(2);
    const e = l.answered();
    expect(e?.request).toBe(2);
    expect(done).toEqual([['a']]);
    expect(l.answered()?.request).toBe(3);
    expect(done).toEqual([['a'], ['c']]);
  });

  test('extended COPY: the copy end arrives after CopyInResponse (entries owed later fold in)', () => {
    const { l } = ledger();
    l.owe(Owed.Server, 1);
    l.copyIn();
    expect(l.outstanding).toBe(1);
    l.owe(Owed.Server, 2); // a Sync sent during the copy: ignored by the server
    expect(l.outstanding).toBe(1);
    l.owe(Owed.Server, 3, { copyEnds: 1 });
    expect(l.outstanding).toBe(1);
    l.owe(Owed.Server, 4);
    expect(l.outstanding).toBe(2);
    expect(l.answered()?.request).toBe(3);
    expect(l.answered()?.request).toBe(4);
  });

  test('extended COPY ended in the same segment (no Sync in between): nothing folds', () => {
    const { l } = ledger();
    l.owe(Owed.Server, 1, { copyEnds: 1 });
    l.owe(Owed.Server, 2);
    l.copyIn();
    expect(l.outstanding).toBe(2);
    expect(l.answered()?.request).toBe(1);
  });

  test('simple COPY: the Query is answered after the copy; a Sync sent during the copy gets no answer', () => {
    const { l, done } = ledger();
    l.owe(Owed.Server, 1, { simple: true });
    l.owe(Owed.Server, 2, { inflight: set('x') }); // Sync during copy-in
    l.owe(Owed.Server, 3, { simple: true, copyEnds: 1 }); // CopyDone, then the next Query
    l.copyIn();
    expect(l.outstanding).toBe(2);
    expect(l.answered()?.request).toBe(1);
    expect(done).toEqual([['x']]);
    expect(l.answered()?.request).toBe(3);
  });

  test('simple COPY whose data comes later; the next Query after CopyDone has its own answer', () => {
    const { l } = ledger();
    l.owe(Owed.Server, 1, { simple: true });
    l.copyIn();
    l.owe(Owed.Server, 2, { simple: true, copyEnds: 1 });
    expect(l.outstanding).toBe(2);
  });

  test('COPY that fails before copy-in (no CopyInResponse): every Sync is answered', () => {
    const { l } = ledger();
    l.owe(Owed.Server, 1);
    l.owe(Owed.Server, 2, { copyEnds: 1 });
    expect(l.answered()?.request).toBe(1);
    expect(l.answered()?.request).toBe(2);
  });

  test('clear releases everything in flight', () => {
    const { l, done } = ledger();
    l.owe(Owed.Server, 1, { inflight: set('a') });
    l.copyIn();
    l.owe(Owed.Server, 2, { inflight: set('b'), copyEnds: 1 });
    l.clear();
    expect(done.sort()).toEqual([['a'], ['b']]);
    expect(l.outstanding).toBe(0);
  });
});
