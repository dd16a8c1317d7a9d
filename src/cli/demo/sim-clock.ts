/**
 * The demo's compressed time: one simulated day lasts `dayMs` of real time. Simulated instants are
 * ordinary epoch milliseconds (starting at 06:00 UTC of today, so load ramps up at once), which lets
 * the forecast and the planner work on them unchanged: they only ever see simulated time.
 */
export const DAY_MS = 86_400_000;
/** History steps per simulated day: 6 simulated minutes each, a whole number of forecast steps per day. */
export const STEPS_PER_DAY = 240;
export const SIM_STEP_MS = DAY_MS / STEPS_PER_DAY;
const START_HOUR = 6;

export class SimClock {
  /** Simulated ms per real ms. */
  readonly scale: number;
  readonly simStartMs: number;

  constructor(
    readonly dayMs: number,
    readonly realStartMs: number = Date.now(),
  ) {
    this.scale = DAY_MS / dayMs;
    const d = new Date(realStartMs);
    this.simStartMs = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), START_HOUR);
  }

  /** Real time of one history step. */
  get realStepMs(): number {
    return this.dayMs / STEPS_PER_DAY;
  }

  toSim(realMs: number): number {
    return this.simStartMs + (realMs - this.realStartMs) * this.scale;
  }

  toReal(simMs: number): number {
    return this.realStartMs + (simMs - this.simStartMs) / this.scale;
  }

  /** Real duration → simulated duration. */
  simDuration(realMs: number): number {
    return realMs * this.scale;
  }

  /** Hour of the simulated day, 0 ≤ h < 24. */
  hourOf(simMs: number): number {
    return (((simMs % DAY_MS) + DAY_MS) % DAY_MS) / 3_600_000;
  }

  /** "day 2 14:36": days counted from the demo's start, 1-based. */
  format(simMs: number): string {
    const day = Math.floor((simMs - (this.simStartMs - START_HOUR * 3_600_000)) / DAY_MS) + 1;
    const d = new Date(simMs);
    return `day ${day} ${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
  }
}
