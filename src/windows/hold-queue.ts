import type { HeldRequest } from '../proxy/gate.js';
import type { Metrics } from '../metrics/registry.js';

/** A held request and its place in the arrival order of its window. */
export interface QueuedRequest {
  req: HeldRequest;
  seq: number;
}

/**
 * One partition's hold queue: bounded by count and bytes. Overflow is refused (the caller rejects
 * the request with a clear error), never dropped silently and never unbounded.
 */
export class HoldQueue {
  private items: QueuedRequest[] = [];
  private byteCount = 0;

  constructor(
    readonly maxRequests: number,
    readonly maxBytes: number,
  ) {}

  get depth(): number {
    return this.items.length;
  }

  get bytes(): number {
    return this.byteCount;
  }

  push(req: HeldRequest, seq: number): boolean {
    if (this.items.length >= this.maxRequests || this.byteCount + req.bytes > this.maxBytes) return false;
    this.items.push({ req, seq });
    this.byteCount += req.bytes;
    return true;
  }

  /** A client went away: its request leaves the queue and is never forwarded. */
  remove(req: HeldRequest): boolean {
    const i = this.items.findIndex((q) => q.req === req);
    if (i < 0) return false;
    this.byteCount -= this.items[i]!.req.bytes;
    this.items.splice(i, 1);
    return true;
  }

  /** Everything, oldest first, leaving the queue empty. */
  takeAll(): QueuedRequest[] {
    const out = this.items;
    this.items = [];
    this.byteCount = 0;
    return out;
  }
}

/**
 * Release what several queues held, oldest first across all of them, counting each wait in the
 * hold metrics under its partition.
 */
export function releaseOldestFirst(items: Array<QueuedRequest & { partition: string }>, metrics?: Metrics): void {
  items.sort((a, b) => a.seq - b.seq);
  const now = performance.now();
  for (const { partition, req } of items) {
    const waitedS = (now - req.heldAtMs) / 1000;
    metrics?.holdSeconds.labels(metrics.histogramPartition(partition)).observe(waitedS);
    metrics?.heldSecondsTotal.labels(metrics.partition(partition)).inc(waitedS);
    req.release();
  }
}
