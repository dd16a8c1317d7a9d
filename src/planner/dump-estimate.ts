/** Expected pg_dump duration of a partition, from its own past dumps when there are any. */

export interface PastDump {
  bytes: number;
  durationMs: number;
}

export interface DumpEstimateInput {
  /** Current size of the partition (pg_total_relation_size). */
  relationBytes: number;
  /** Earlier good dumps of this partition, oldest first. */
  pastDumps?: readonly PastDump[];
  /** Used before the partition has ever been dumped. */
  defaultThroughputBytesPerSec: number;
  /** Fixed cost of starting pg_dump (connect, catalog queries, lock). */
  overheadMs?: number;
}

/** Dumps kept for the throughput: recent enough to reflect today's server, enough to smooth one slow run. */
const RECENT_DUMPS = 5;

export function expectedDumpMs(input: DumpEstimateInput): number {
  const recent = (input.pastDumps ?? []).filter((d) => d.bytes > 0 && d.durationMs > 0).slice(-RECENT_DUMPS);
  const bytes = recent.reduce((s, d) => s + d.bytes, 0);
  const ms = recent.reduce((s, d) => s + d.durationMs, 0);
  // Bytes over time summed (not a mean of rates), so one tiny dump cannot claim a silly speed.
  const bytesPerMs = recent.length > 0 ? bytes / ms : input.defaultThroughputBytesPerSec / 1000;
  return (input.overheadMs ?? 0) + Math.max(0, input.relationBytes) / bytesPerMs;
}
