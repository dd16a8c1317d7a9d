/** Entry points the coordinator calls: forecasts and constraints in, one Plan out. */
import { assemblePlan } from './assemble.js';
import { ExactSolverError, exactSize, solveExact } from './exact.js';
import { solveHeuristic, type HeuristicOptions } from './heuristic.js';
import { buildProblem } from './model.js';
import type { Plan, PlanInput } from './types.js';

export type SolverChoice = 'auto' | 'exact' | 'heuristic';

export interface PlanOptions extends HeuristicOptions {
  solver?: SolverChoice;
  /** With 'auto', problems with at most this many (group, candidate) pairs are solved exactly. */
  exactMaxVariables?: number;
  exactTimeLimitS?: number;
}

const DEFAULT_EXACT_MAX_VARIABLES = 3_000;
/** In 'auto' mode the exact solver gets this long before the heuristic answers instead. */
const DEFAULT_AUTO_TIME_LIMIT_S = 10;

/** Synchronous heuristic plan: what the scheduler uses for large inputs and what the bench times. */
export function planHeuristic(input: PlanInput, opts: HeuristicOptions = {}): Plan {
  const problem = buildProblem(input);
  return assemblePlan(problem, solveHeuristic(problem, opts), 'heuristic');
}

export async function planExact(input: PlanInput, opts: { timeLimitS?: number } = {}): Promise<Plan> {
  const problem = buildProblem(input);
  return assemblePlan(problem, await solveExact(problem, opts), 'exact');
}

/**
 * Exact when the problem is small, heuristic otherwise. In 'auto' mode a MIP that runs out of time
 * falls back to the heuristic: a plan on time beats a proof of optimality too late.
 */
export async function plan(input: PlanInput, opts: PlanOptions = {}): Promise<Plan> {
  const problem = buildProblem(input);
  const solver = opts.solver ?? 'auto';
  if (solver === 'exact') {
    const choice = await solveExact(problem, opts.exactTimeLimitS === undefined ? {} : { timeLimitS: opts.exactTimeLimitS });
    return assemblePlan(problem, choice, 'exact');
  }
  if (solver === 'auto' && exactSize(problem) <= (opts.exactMaxVariables ?? DEFAULT_EXACT_MAX_VARIABLES)) {
    try {
      const choice = await solveExact(problem, { timeLimitS: opts.exactTimeLimitS ?? DEFAULT_AUTO_TIME_LIMIT_S });
      return assemblePlan(problem, choice, 'exact');
    } catch (err) {
      if (!(err instanceof ExactSolverError)) throw err;
    }
  }
  return assemblePlan(problem, solveHeuristic(problem, opts), 'heuristic');
}
