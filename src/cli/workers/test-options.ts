/**
 * Test only: per-worker node options (an injected clock offset, quietcut's own database work
 * through a relay), so that tests of the real `quietcut start --workers N` can skew one worker's
 * clock or cut one worker off from the database, as multi-node tests do with in-process nodes.
 * Read from an environment variable no user sets; absent, a worker runs as configured.
 */
import { z } from 'zod';
import type { RunNodeOptions } from '../run-node.js';

export const TEST_WORKER_OPTIONS_ENV = 'QUIETCUT_TEST_WORKER_OPTIONS';

const perWorker = z
  .object({
    clockOffsetMs: z.number().finite().optional(),
    adminVia: z.object({ host: z.string().min(1), port: z.number().int().min(1).max(65535) }).strict().optional(),
  })
  .strict();
const bySlot = z.record(z.string().regex(/^\d+$/), perWorker);

export type TestWorkerOptions = z.input<typeof bySlot>;

/** This slot's options from the environment; a malformed value throws (the worker then says why and stops). */
export function testWorkerOptions(slot: number, env: NodeJS.ProcessEnv = process.env): Pick<RunNodeOptions, 'clockOffsetMs' | 'adminVia'> {
  const raw = env[TEST_WORKER_OPTIONS_ENV];
  if (raw === undefined || raw === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`${TEST_WORKER_OPTIONS_ENV} is not JSON`);
  }
  const r = bySlot.safeParse(parsed);
  if (!r.success) throw new Error(`${TEST_WORKER_OPTIONS_ENV}: ${r.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')}`);
  const o = r.data[String(slot)] ?? {};
  return { ...(o.clockOffsetMs === undefined ? {} : { clockOffsetMs: o.clockOffsetMs }), ...(o.adminVia ? { adminVia: o.adminVia } : {}) };
}
