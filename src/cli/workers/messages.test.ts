import { afterEach, describe, expect, test, vi } from 'vitest';
import { answer, Questions } from './messages.js';

describe('Questions', () => {
  afterEach(() => vi.useRealTimers());

  test('each question is settled by its own answer: a value, or the far side’s error', async () => {
    const q = new Questions(1000);
    const sent: Array<{ id: number; q: unknown }> = [];
    const one = q.ask<number>((m) => sent.push(m), { k: 'one' }, 'one');
    const two = q.ask<number>((m) => sent.push(m), { k: 'two' }, 'two');
    expect(sent.map((m) => m.q)).toEqual([{ k: 'one' }, { k: 'two' }]);
    q.answered({ t: 'answer', id: sent[1]!.id, ok: false, error: 'no such thing' });
    q.answered({ t: 'answer', id: sent[0]!.id, ok: true, value: 42 });
    q.answered({ t: 'answer', id: 999, ok: true, value: 'unknown ids are ignored' });
    await expect(one).resolves.toBe(42);
    await expect(two).rejects.toThrow('no such thing');
  });

  test('no answer in time, or the far side gone: the question fails, naming what was asked', async () => {
    vi.useFakeTimers();
    const [q1, q2] = [new Questions(1000), new Questions(1000)];
    const late = q1.ask((_m) => undefined, { k: 'late' }, 'worker 1');
    const gone = q2.ask((_m) => undefined, { k: 'gone' }, 'worker 2');
    const lateFails = expect(late).rejects.toThrow('worker 1: no answer in 1000 ms');
    q2.failAll('worker 2 exited');
    await expect(gone).rejects.toThrow('worker 2 exited');
    vi.advanceTimersByTime(1000);
    await lateFails;
  });

  test('a question that cannot be sent fails at once', async () => {
    const q = new Questions(1000);
    await expect(
      q.ask(() => {
        throw new Error('channel closed');
      }, {}, 'x'),
    ).rejects.toThrow('channel closed');
  });

  test('answer sends what the handler gives, or its error', async () => {
    const out: unknown[] = [];
    answer((m) => out.push(m), 1, async () => 'v');
    answer((m) => out.push(m), 2, async () => {
      throw new Error('bad');
    });
    answer((m) => out.push(m), 3, async () => undefined);
    await vi.waitFor(() => expect(out).toHaveLength(3));
    expect(out).toEqual(expect.arrayContaining([{ t: 'answer', id: 1, ok: true, value: 'v' }, { t: 'answer', id: 2, ok: false, error: 'bad' }, { t: 'answer', id: 3, ok: true, value: null }]));
  });
});
