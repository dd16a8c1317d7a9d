/** A consistency group: partitions whose backups form one cut. */
export interface Group {
  name: string;
  partitions: string[];
}

export type GroupsConfig = 'partition' | 'table' | Readonly<Record<string, readonly string[]>>;

/**
 * Split the partitions to back up into consistency groups, keeping the requested order:
 * `partition` (each alone), `table` (all partitions of a table together), or named lists (a
 * requested partition in no list is alone). A named group is backed up whole: asking for one
 * member brings the others in, or the cut would not hold for the group.
 */
export function groupPartitions(partitions: readonly string[], config: GroupsConfig, rootOf: (p: string) => string): Group[] {
  const out = new Map<string, Group>();
  const add = (name: string, p: string): void => {
    const g = out.get(name) ?? { name, partitions: [] };
    if (!g.partitions.includes(p)) g.partitions.push(p);
    out.set(name, g);
  };
  for (const p of partitions) {
    if (config === 'partition') add(p, p);
    else if (config === 'table') add(rootOf(p), p);
    else {
      const named = Object.entries(config).find(([, members]) => members.includes(p));
      if (named) for (const m of named[1]) add(named[0], m);
      else add(p, p);
    }
  }
  return [...out.values()];
}
