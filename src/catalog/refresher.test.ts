import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { Catalog } from './catalog.js';
import { CatalogRefresher } from './refresher.js';

function fakeCatalog(): Catalog {
  return { markStale: () => undefined } as unknown as Catalog;
}

describe('catalog reloads after DDL are debounced', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  async function refresher(): Promise<{ r: CatalogRefresher; loads: () => number }> {
    let n = 0;
    const r = new CatalogRefresher({
      intervalMs: 3_600_000,
      load: () => {
        n++;
        return Promise.resolve(fakeCatalog());
      },
    });
    await r.start();
    n = 0;
    return { r, loads: () => n };
  }

  test('a burst of 100 DDL statements costs one reload, after the burst is quiet', async () => {
    const { r, loads } = await refresher();
    for (let i = 0; i < 100; i++) {
      r.markStale('public.t');
      await vi.advanceTimersByTimeAsync(5);
    }
    expect(loads()).toBe(0);
    // the last one came 5 ms ago: the reload is due 250 ms after it
    await vi.advanceTimersByTimeAsync(244);
    expect(loads()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(loads()).toBe(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(loads()).toBe(1);
    r.stop();
  });

  test('DDL that never pauses still reloads, at most every maxDelayMs', async () => {
    const { r, loads } = await refresher();
    for (let i = 0; i < 100; i++) {
      r.markStale('public.t');
      await vi.advanceTimersByTimeAsync(100);
    }
    // 10 s of DDL every 100 ms: one reload per 2 s, not one per statement
    expect(loads()).toBe(5);
    r.stop();
  });
});
