import { describe, expect, test } from 'vitest';
import { TEST_WORKER_OPTIONS_ENV, testWorkerOptions } from './test-options.js';

const env = (v: unknown): NodeJS.ProcessEnv => ({ [TEST_WORKER_OPTIONS_ENV]: typeof v === 'string' ? v : JSON.stringify(v) });

describe('per-worker test options', () => {
  test('absent: nothing changes', () => {
    expect(testWorkerOptions(0, {})).toEqual({});
  });

  test('each slot gets its own; a slot not named gets none', () => {
    const e = env({ '0': { clockOffsetMs: 400 }, '1': { clockOffsetMs: -250, adminVia: { host: '127.0.0.1', port: 5555 } } });
    expect(testWorkerOptions(0, e)).toEqual({ clockOffsetMs: 400 });
    expect(testWorkerOptions(1, e)).toEqual({ clockOffsetMs: -250, adminVia: { host: '127.0.0.1', port: 5555 } });
    expect(testWorkerOptions(2, e)).toEqual({});
  });

  test('malformed values are refused, naming what is wrong', () => {
    expect(() => testWorkerOptions(0, env('{'))).toThrow(`${TEST_WORKER_OPTIONS_ENV} is not JSON`);
    expect(() => testWorkerOptions(0, env({ '0': { clockOfsetMs: 1 } }))).toThrow(/0: Unrecognized key/);
    expect(() => testWorkerOptions(0, env({ '0': { adminVia: { host: 'h', port: 0 } } }))).toThrow(/0\.adminVia\.port/);
  });
});
