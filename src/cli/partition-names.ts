/**
 * Partition and table names as people type them: with or without the schema (`orders_eu` and
 * `public.orders_eu`, as `quietcut status` shows them), a table for all of its partitions, and
 * a "did you mean" for a near miss.
 */

export interface KnownLeaf {
  name: string;
  root: string;
}

export class UnknownNameError extends Error {
  constructor(
    readonly input: string,
    readonly suggestion: string | null,
  ) {
    super(`no managed partition or partitioned table named ${input}${suggestion ? `; did you mean ${suggestion}?` : ''} (quietcut status lists them)`);
    this.name = 'UnknownNameError';
  }
}

const bare = (qualified: string): string => qualified.slice(qualified.indexOf('.') + 1);

/**
 * The leaves one name stands for: a leaf, or every leaf of a table. An unqualified name matches
 * in any schema, but only if exactly one matches (else the error lists the candidates).
 */
export function resolveName(input: string, leaves: readonly KnownLeaf[], o: { tables?: boolean } = {}): string[] {
  const name = input.trim();
  const leafNames = leaves.map((l) => l.name);
  const roots = [...new Set(leaves.map((l) => l.root))];
  const qualified = name.includes('.');
  const match = (candidates: readonly string[]): string[] => candidates.filter((c) => (qualified ? c === name : bare(c) === name));
  const leafHits = match(leafNames);
  if (leafHits.length === 1) return leafHits;
  const tableHits = o.tables === false ? [] : match(roots);
  if (leafHits.length === 0 && tableHits.length === 1) return leaves.filter((l) => l.root === tableHits[0]).map((l) => l.name);
  const hits = [...leafHits, ...tableHits];
  if (hits.length > 1) throw new UnknownNameError(input, hits.join(' or '));
  throw new UnknownNameError(input, closest(name, qualified ? [...leafNames, ...roots] : [...leafNames, ...roots].map(bare)));
}

/** Every leaf the names stand for, in order, without duplicates. */
export function resolveNames(inputs: readonly string[], leaves: readonly KnownLeaf[], o: { tables?: boolean } = {}): string[] {
  const out = new Set<string>();
  for (const i of inputs) for (const p of resolveName(i, leaves, o)) out.add(p);
  return [...out];
}

/** The nearest candidate by edit distance, if it is near enough to be a typo. */
export function closest(input: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of new Set(candidates)) {
    const d = editDistance(input.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(input.length / 3)) ? best : null;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}
