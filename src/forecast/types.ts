/**
 * The contract between stats (history), forecast and planner. Pure data: no sockets, no database.
 */

/** A regular series: values[i] is the count of writes in [startMs + i*stepMs, startMs + (i+1)*stepMs). NaN marks a gap. */
export interface Series {
  startMs: number;
  stepMs: number;
  values: Float64Array;
}

export interface ForecastOptions {
  /** Number of future steps to predict, starting right after the series ends. */
  horizonSteps: number;
  /** Upper quantile to report, e.g. 0.9. */
  quantile: number;
}

export interface Forecast {
  startMs: number;
  stepMs: number;
  /** Predicted writes per step. */
  mean: Float64Array;
  /** Upper quantile of writes per step (>= mean). */
  upper: Float64Array;
  /** Lower quantile (1 − quantile) of writes per step (<= mean), where the model estimates one. */
  lower?: Float64Array;
  /**
   * Where the model's validation measured it: spread[i][h] is the SPREAD_LEVELS[i] quantile of
   * writes at step h (the mean plus that quantile of the validation errors at h's time of day,
   * at least 0). The live check reads from it what waiting for a later start may cost.
   */
  spread?: Float64Array[];
  /** Which model produced it, e.g. 'profile-daily-weekly', 'weighted-mean(…)', 'daily-profile', 'seasonal-naive', 'flat-mean'. */
  model: string;
}

/**
 * Levels of Forecast.spread: the middles of nine equal-probability bins, so the mean over the
 * levels is an expectation. Nine measured as well as the 21 validation errors themselves in the
 * simulator (README, the planner figures), at less than half the size in a stored plan.
 */
export const SPREAD_LEVELS: readonly number[] = Array.from({ length: 9 }, (_, i) => (i + 0.5) / 9);
