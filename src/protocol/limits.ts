import { Frontend } from './codes.js';

/**
 * PostgreSQL 15's limits on a frontend message's length field (which counts itself):
 * PQ_LARGE_MESSAGE_LIMIT (MaxAllocSize - 1) and PQ_SMALL_MESSAGE_LIMIT, chosen per type in
 * SocketBackend (src/backend/tcop/postgres.c). Past them the server logs "invalid message length"
 * and closes the connection without a word.
 */
export const PG_LARGE_MESSAGE_LENGTH = 0x3fffffff - 1;
export const PG_SMALL_MESSAGE_LENGTH = 10_000;

/** Largest whole frontend message (type byte included) PostgreSQL reads. */
export const PG_MAX_MESSAGE_BYTES = PG_LARGE_MESSAGE_LENGTH + 1;

const SMALL_TYPES = [Frontend.Close, Frontend.Describe, Frontend.Execute, Frontend.Flush, Frontend.Sync, Frontend.Terminate];

/** Whole-message limits per frontend type, for MessageScanner.typeLimits. */
export function frontendTypeLimits(): Uint32Array {
  const t = new Uint32Array(256).fill(PG_MAX_MESSAGE_BYTES);
  for (const x of SMALL_TYPES) t[x] = PG_SMALL_MESSAGE_LENGTH + 1;
  return t;
}

/** The server itself would refuse this length for this type (so it, not the proxy, answers). */
export function serverRefusesLength(limits: Uint32Array, type: number, length: number): boolean {
  return length < 4 || length + 1 > limits[type]!;
}
