/**
 * What `GET /status` reports per partition: write rate, window state, held writes, last backup.
 * Kept apart from the Prometheus registry because the status table wants current values
 * synchronously (prom-client reads are async) and a rate over the last seconds, which Prometheus
 * would compute from two scrapes.
 */
import type { BackupRunResult } from '../coordinator/backup-run.js';

/** Seconds the write rate is averaged over: long enough to be steady, short enough to follow a day compressed into minutes. */
export const RATE_WINDOW_S = 5;

export interface PartitionStatus {
  partition: string;
  table: string | null;
  /** Writes per second through this node, averaged over the last RATE_WINDOW_S seconds. */
  writesPerSec: number;
  writesTotal: number;
  /** idle, or the window's current step: queued (behind another run), holding, dumping, then good / failed / aborted until the run ends. */
  window: string;
  /** When the next planned window starts (ms since epoch), if something planned one. */
  nextWindowAt: number | null;
  /** Writes held by this partition's last window, and by all its windows on this node. */
  heldLast: number;
  heldTotal: number;
  windows: number;
  lastBackup: { at: number; status: 'good' | 'failed' | 'aborted'; runDir: string; bytes: number | null; windowMs: number | null } | null;
}

interface Entry {
  table: string | null;
  /** writes per whole second, the last RATE_WINDOW_S + 1 seconds */
  ring: Float64Array;
  ringSecond: number;
  total: number;
  window: string;
  nextWindowAt: number | null;
  heldLast: number;
  heldTotal: number;
  windows: number;
  lastBackup: PartitionStatus['lastBackup'];
}

const RING = RATE_WINDOW_S + 1;

/** Per-partition activity of one node, fed by the write sink and the backup runs. */
export class PartitionActivity {
  private readonly parts = new Map<string, Entry>();

  constructor(private readonly now: () => number = Date.now) {}

  private entry(partition: string): Entry {
    let e = this.parts.get(partition);
    if (!e) {
      e = { table: null, ring: new Float64Array(RING), ringSecond: Math.floor(this.now() / 1000), total: 0, window: 'idle', nextWindowAt: null, heldLast: 0, heldTotal: 0, windows: 0, lastBackup: null };
      this.parts.set(partition, e);
    }
    return e;
  }

  /** Partitions the node manages, so quiet ones are listed too. */
  know(partition: string, table: string): void {
    this.entry(partition).table = table;
  }

  /** Same shape as WriteSink.record: one statement wrote these partitions. */
  record(table: string, partitions: readonly string[], _rows: number): void {
    for (const p of partitions) {
      const e = this.entry(p);
      e.table ??= table;
      this.advance(e);
      const i = e.ringSecond % RING;
      e.ring[i] = (e.ring[i] ?? 0) + 1;
      e.total += 1;
    }
  }

  windowStep(partition: string, step: string): void {
    this.entry(partition).window = step;
  }

  planned(partition: string, atMs: number | null): void {
    this.entry(partition).nextWindowAt = atMs;
  }

  backupDone(result: BackupRunResult): void {
    const at = this.now();
    for (const r of result.partitions) {
      const e = this.entry(r.partition);
      e.window = 'idle';
      e.heldLast = r.held;
      e.heldTotal += r.held;
      e.windows += 1;
      e.lastBackup = { at, status: r.status, runDir: result.runDir, bytes: r.bytes, windowMs: r.windowMs };
    }
  }

  /** A run that failed before reporting per partition: its partitions are no longer in a window. */
  backupFailed(partitions: readonly string[]): void {
    for (const p of partitions) this.entry(p).window = 'idle';
  }

  /** Zero the seconds that passed since the partition's last write. */
  private advance(e: Entry): void {
    const sec = Math.floor(this.now() / 1000);
    if (sec - e.ringSecond >= RING) e.ring.fill(0);
    else for (let s = e.ringSecond + 1; s <= sec; s++) e.ring[s % RING] = 0;
    e.ringSecond = sec;
  }

  snapshot(): PartitionStatus[] {
    const out: PartitionStatus[] = [];
    for (const [partition, e] of [...this.parts].sort(([a], [b]) => a.localeCompare(b))) {
      this.advance(e);
      // Whole seconds only: the current one is still filling.
      let sum = 0;
      for (let s = e.ringSecond - RATE_WINDOW_S; s < e.ringSecond; s++) sum += e.ring[((s % RING) + RING) % RING]!;
      out.push({
        partition,
        table: e.table,
        writesPerSec: sum / RATE_WINDOW_S,
        writesTotal: e.total,
        window: e.window,
        nextWindowAt: e.nextWindowAt,
        heldLast: e.heldLast,
        heldTotal: e.heldTotal,
        windows: e.windows,
        lastBackup: e.lastBackup,
      });
    }
    return out;
  }
}
