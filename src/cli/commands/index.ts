import type { Command } from 'commander';
import { registerStart } from './start.js';
import { registerBackup } from './backup.js';
import { registerVerify } from './verify.js';
import { registerForecast } from './forecast.js';
import { registerSimulate } from './simulate.js';
import { registerStats } from './stats.js';
import { registerPlan } from './plan.js';
import { registerStatus } from './status.js';
import { registerRuns } from './runs.js';
import { registerRestore } from './restore.js';

/** One line per command; each command lives in its own file in this folder. */
export function registerCommands(program: Command): void {
  registerStart(program);
  registerBackup(program);
  registerVerify(program);
  registerForecast(program);
  registerSimulate(program);
  registerStats(program);
  registerPlan(program);
  registerStatus(program);
  registerRuns(program);
  registerRestore(program);
}
