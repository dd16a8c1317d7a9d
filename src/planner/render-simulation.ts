/** The simulator's table: one row per plan, then the ratios that say whether adapting paid off. */
import type { PlanScore } from './score.js';
import type { SimulationResult } from './simulate.js';

const PLANS = ['adaptive', 'uniform', 'oracle'] as const;

function num(x: number): string {
  if (x === 0) return '0';
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
  return x.toPrecision(4);
}

function ratio(a: number, b: number): string {
  if (b === 0) return a === 0 ? '1.000' : 'inf';
  return (a / b).toFixed(3);
}

/**
 * Plans compared as an operator would: fewer missed backups first, then fewer budget violations,
 * then fewer held writes, then less overlap. A plan that skips a backup never looks better than
 * one that holds a few writes.
 */
export function comparePlanScores(a: PlanScore, b: PlanScore): number {
  return a.missedBackups - b.missedBackups || a.budgetViolations - b.budgetViolations || a.heldWrites - b.heldWrites || a.overlapCost - b.overlapCost;
}

export type RatioKey = 'heldWrites' | 'overlapCost' | 'missedBackups';

/**
 * Ratios of held writes and overlap; when the first plan misses more backups than the second its
 * ratios read "worse (N more missed)" instead of a number, since holding fewer writes by not
 * backing up is no gain.
 */
export function ratios(r: Pick<SimulationResult, 'adaptive' | 'uniform' | 'oracle'>): Record<string, Record<RatioKey, string>> {
  const pick = (a: PlanScore, b: PlanScore): Record<RatioKey, string> => {
    const more = a.missedBackups - b.missedBackups;
    const worse = `worse (${more} more missed)`;
    return {
      heldWrites: more > 0 ? worse : ratio(a.heldWrites, b.heldWrites),
      overlapCost: more > 0 ? worse : ratio(a.overlapCost, b.overlapCost),
      missedBackups: `${a.missedBackups} vs ${b.missedBackups}`,
    };
  };
  return { 'adaptive/uniform': pick(r.adaptive, r.uniform), 'adaptive/oracle': pick(r.adaptive, r.oracle) };
}

export function formatSimulationTable(r: SimulationResult, title: string): string {
  const head = ['plan', 'held writes', 'overlap cost', 'peak queue', 'peak hold ms', 'budget violations', 'missed backups'];
  const rows = PLANS.map((k) => {
    const s = r[k];
    return [k, num(s.heldWrites), num(s.overlapCost), num(s.peakQueue), num(s.peakHoldMs), String(s.budgetViolations), String(s.missedBackups)];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  const out = [title, '', line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), ''];
  for (const [name, v] of Object.entries(ratios(r))) out.push(`${name.padEnd(17)} held writes ${v.heldWrites}   overlap cost ${v.overlapCost}   missed backups ${v.missedBackups}`);
  out.push(`live check (adaptive): ${r.live.startedEarly} windows started early, ${r.live.moved} moved to a later slot, ${r.live.skipped} skipped`);
  return out.join('\n');
}
