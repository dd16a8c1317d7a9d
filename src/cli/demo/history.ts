/**
 * The demo's write history in simulated time: per partition, the writes the proxy forwarded in each
 * simulated step (6 simulated minutes), sampled from the node's own counters. The database history
 * (quietcut.write_minutes) is per real minute, far too coarse for a day that lasts two minutes.
 */
import type { Series } from '../../forecast/types.js';
import { SIM_STEP_MS, STEPS_PER_DAY } from './sim-clock.js';

/** A week of simulated days: what the weekly part of the forecast could use, and a bound on memory. */
const KEEP_STEPS = 7 * STEPS_PER_DAY;

export class DemoHistory {
  private readonly counts = new Map<string, number[]>();
  private readonly lastTotals = new Map<string, number>();
  /** Simulated start of counts[…][0]. */
  startMs: number;
  steps = 0;

  constructor(startSimMs: number) {
    this.startMs = startSimMs;
  }

  /** Close one step with the partitions' write totals now (totals only grow). */
  sample(totals: ReadonlyMap<string, number>): void {
    for (const [p, total] of totals) {
      let row = this.counts.get(p);
      if (!row) {
        row = new Array<number>(this.steps).fill(0);
        this.counts.set(p, row);
      }
      row.push(total - (this.lastTotals.get(p) ?? 0));
      this.lastTotals.set(p, total);
    }
    this.steps++;
    for (const row of this.counts.values()) while (row.length < this.steps) row.push(0);
    if (this.steps > KEEP_STEPS) {
      const drop = this.steps - KEEP_STEPS;
      for (const row of this.counts.values()) row.splice(0, drop);
      this.steps = KEEP_STEPS;
      this.startMs += drop * SIM_STEP_MS;
    }
  }

  /** End of the recorded history (simulated ms): where a forecast starts. */
  get endMs(): number {
    return this.startMs + this.steps * SIM_STEP_MS;
  }

  series(partition: string): Series | null {
    const row = this.counts.get(partition);
    if (!row || this.steps === 0) return null;
    return { startMs: this.startMs, stepMs: SIM_STEP_MS, values: Float64Array.from(row) };
  }

  partitions(): string[] {
    return [...this.counts.keys()].sort();
  }
}
