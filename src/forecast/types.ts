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
  /** Which model produced it, e.g. 'profile-daily-weekly', 'weighted-mean(…)', 'daily-profile', 'seasonal-naive', 'flat-mean'. */
  model: string;
}
