/**
 * Cancel keys handed to clients when several worker processes share one port (`--workers`): a
 * CancelRequest arrives on a new connection, which the kernel may give to any worker, so the key
 * itself says which worker's session it names (as PgBouncer's peering reserves bits of its key for
 * the peer id). The top bits of the secret carry the worker's slot; the rest are the server's own
 * secret, so a key stays as hard to guess as the server's minus those bits. The server's real key
 * never leaves quietcut: a cancel is forwarded with the key the session recorded.
 */

/** Bits of the 32-bit secret that name the worker. */
export const WORKER_KEY_BITS = 8;
/** Most workers a key can tell apart. */
export const MAX_WORKERS = 1 << WORKER_KEY_BITS;

const SHIFT = 32 - WORKER_KEY_BITS;
const LOW_MASK = (1 << SHIFT) - 1;

/** The secret the client is given for a session of worker `slot` whose server secret is `serverSecret` (int32, as on the wire). */
export function workerSecret(slot: number, serverSecret: number): number {
  if (!Number.isInteger(slot) || slot < 0 || slot >= MAX_WORKERS) throw new RangeError(`worker slot ${slot} is outside 0-${MAX_WORKERS - 1}`);
  return ((slot << SHIFT) | (serverSecret & LOW_MASK)) | 0;
}

/** The worker slot a client's secret names (any int32: forged keys name some slot, and are ignored there). */
export function workerOfSecret(secret: number): number {
  return secret >>> SHIFT;
}
