/**
 * One pass over a statement's tree for what may hide anywhere in it: data-modifying statements
 * (in WITH, or under COPY (…) TO) and function calls. Walking every node, rather than the places the
 * grammar allows today, means a form we did not think of still shows up.
 */
import type { DeleteStmt, FuncCall, InsertStmt, MergeStmt, UpdateStmt } from 'libpg-query';

export type NestedWrite =
  | { InsertStmt: InsertStmt }
  | { UpdateStmt: UpdateStmt }
  | { DeleteStmt: DeleteStmt }
  | { MergeStmt: MergeStmt };

export interface TreeFindings {
  writes: NestedWrite[];
  calls: FuncCall[];
}

const WRITE_KEYS = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

function visit(value: unknown, found: TreeFindings): void {
  if (Array.isArray(value)) {
    for (const v of value) visit(v, found);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const [key, child] of Object.entries(value)) {
    if (typeof child !== 'object' || child === null) continue;
    if (key === 'FuncCall') found.calls.push(child as FuncCall);
    else if (WRITE_KEYS.has(key)) found.writes.push({ [key]: child } as NestedWrite);
    visit(child, found);
  }
}

/** Everything below `body` (the statement's own node body, so the statement itself is not listed). */
export function walkTree(body: unknown): TreeFindings {
  const found: TreeFindings = { writes: [], calls: [] };
  visit(body, found);
  return found;
}
