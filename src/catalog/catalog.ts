/**
 * The loaded partition catalog: which tables quietcut manages, their partition trees, and the
 * resolution of a classified write target to the leaf partitions it can touch. Pure once built: no
 * database access, so the proxy can call it on every statement.
 *
 * The one rule: never name fewer partitions than the server may write. Whatever cannot be decided
 * exactly (unknown values, unsupported types or collations, stale metadata) widens to every leaf of
 * the named table or subtree.
 */
import type { TableRef, WriteTarget } from '../sql/types.js';
import { buildLevel, matchLevel, type Constraint, type Level } from './level.js';
import type { CatalogData, ColumnInfo, LeafInfo, RelationInfo, Resolution } from './model.js';
import { decodeSlot, insertConstraint, sessionOffsetOf, whereConstraint, type BindParam, type SlotContext } from './slot-values.js';

export interface ResolveContext {
  searchPath: string[];
  user: string;
  /** Bind parameter values, once known (omit at Parse time). */
  params?: ReadonlyArray<BindParam>;
  /** Parameter types from Parse (0 = unspecified: the server infers the column's type). */
  paramTypes?: ReadonlyArray<number>;
  /** The session's TimeZone. Without it, timestamptz literals lacking an offset resolve as a ±16h span. */
  timeZone?: string;
}

/** What a table name refers to. */
export interface TableEntry {
  /** schema-qualified, unquoted */
  name: string;
  /** the root of its tree (itself for a root or plain table) */
  root: string;
  kind: 'partitioned' | 'leaf' | 'plain';
  /** every leaf below (itself for a leaf or plain table) */
  leaves: string[];
}

interface Node {
  info: RelationInfo;
  qname: string;
  parent: Node | null;
  root: Node;
  children: Node[];
  level: Level<Node> | null;
  leaves: string[];
  columns: Map<string, ColumnInfo>;
}

export const qualify = (schema: string, name: string): string => `${schema}.${name}`;

/** A search_path entry as written (`"$user"`, `public`, `"My Schema"`) → the schema name. */
function pathEntry(entry: string, user: string): string {
  let s = entry.trim();
  if (s.startsWith('"') && s.endsWith('"') && s.length >= 2) s = s.slice(1, -1).replaceAll('""', '"');
  return s === '$user' ? user : s;
}

export class Catalog {
  readonly loadedAtMs: number;
  private readonly bySchema = new Map<string, Map<string, Node>>();
  private readonly roots: Node[] = [];
  private readonly staleRoots = new Set<Node>();
  /** Position of every leaf in catalog order, so results are sorted without scanning whole trees. */
  private readonly leafOrder = new Map<string, number>();
  private everythingStale = false;
  /** undefined: not loaded, every function outside pg_catalog counts as unknown. */
  private readonly userFunctions: ReadonlySet<string> | undefined;
  private readonly hiddenWriters: ReadonlySet<string>;
  private readonly hiddenWriterNames: ReadonlySet<string>;

  constructor(data: CatalogData) {
    this.loadedAtMs = data.loadedAtMs;
    this.userFunctions = data.userFunctions ? new Set(data.userFunctions) : undefined;
    this.hiddenWriters = new Set(data.hiddenWriters ?? []);
    this.hiddenWriterNames = new Set([...this.hiddenWriters].map((q) => q.slice(q.indexOf('.') + 1)));
    const byOid = new Map<number, Node>();
    for (const info of data.relations) {
      const node = { info, qname: qualify(info.schema, info.name), parent: null, children: [], level: null, leaves: [], columns: new Map(info.columns.map((c) => [c.name, c])) } as unknown as Node;
      node.root = node;
      byOid.set(info.oid, node);
    }
    for (const node of byOid.values()) {
      const parent = node.info.parentOid === null ? undefined : byOid.get(node.info.parentOid);
      if (parent) {
        node.parent = parent;
        parent.children.push(node);
      }
    }
    const plain = new Set(data.plainTableOids);
    const keep = (node: Node, root: Node): void => {
      node.root = root;
      const schema = this.bySchema.get(node.info.schema) ?? new Map<string, Node>();
      this.bySchema.set(node.info.schema, schema);
      schema.set(node.info.name, node);
      for (const c of node.children) keep(c, root);
      node.leaves = node.info.relkind === 'p' ? node.children.flatMap((c) => c.leaves) : [node.qname];
      if (node.info.relkind === 'p' && node.info.key) {
        node.level = buildLevel(
          node.info.key.strategy,
          node.info.key.parts,
          node.children.map((child) => ({ child, bound: child.info.bound ?? '' })),
          data.hashVerified,
        );
      }
    };
    for (const node of byOid.values()) {
      // Roots: partitioned tables that are not partitions themselves, and configured plain tables.
      if (node.parent || node.info.parentOid !== null) continue;
      if (node.info.relkind === 'p' || plain.has(node.info.oid)) {
        keep(node, node);
        this.roots.push(node);
      }
    }
    for (const r of this.roots) for (const l of r.leaves) this.leafOrder.set(l, this.leafOrder.size);
  }

  /** Root tables (partitioned and plain), schema-qualified. */
  tables(): string[] {
    return this.roots.map((r) => r.qname);
  }

  /** Every leaf partition of every managed table. */
  leaves(): LeafInfo[] {
    return this.roots.flatMap((r) => r.leaves.map((name) => this.leafInfo(name, r)));
  }

  private leafInfo(name: string, root: Node): LeafInfo {
    const dot = name.indexOf('.');
    const node = this.bySchema.get(name.slice(0, dot))?.get(name.slice(dot + 1));
    const table = node ? { schema: node.info.schema, name: node.info.name } : { schema: name.slice(0, dot), name: name.slice(dot + 1) };
    return { name, root: root.qname, foreignServer: node?.info.foreignServer ?? null, table };
  }

  private find(ref: TableRef, searchPath: string[], user: string): Node | undefined {
    if (ref.schema !== null) return this.bySchema.get(ref.schema)?.get(ref.name);
    for (const entry of searchPath) {
      const node = this.bySchema.get(pathEntry(entry, user))?.get(ref.name);
      if (node) return node;
    }
    return undefined;
  }

  /** The managed table, intermediate partitioned table or leaf a name refers to; undefined when not managed. */
  lookup(ref: TableRef, searchPath: string[], user: string): TableEntry | undefined {
    const node = this.find(ref, searchPath, user);
    if (!node) return undefined;
    const kind = node.info.relkind === 'p' ? 'partitioned' : node.parent ? 'leaf' : 'plain';
    return { name: node.qname, root: node.root.qname, kind, leaves: node.leaves };
  }

  /**
   * After DDL seen through the proxy: until the next load, writes to the table's tree resolve to all
   * its partitions. A name the catalog does not know may be a new partition of any table (CREATE TABLE
   * ... PARTITION OF), so it marks every table stale. An unqualified name without a search path marks
   * every table of that name.
   */
  markStale(ref: TableRef | string, searchPath?: string[], user = ''): void {
    const r = typeof ref === 'string' ? parseName(ref) : ref;
    const nodes: Node[] = [];
    if (r.schema !== null || searchPath) {
      const n = this.find(r, searchPath ?? [], user);
      if (n) nodes.push(n);
    } else {
      for (const schema of this.bySchema.values()) {
        const n = schema.get(r.name);
        if (n) nodes.push(n);
      }
    }
    if (nodes.length === 0) this.everythingStale = true;
    for (const n of nodes) this.staleRoots.add(n.root);
  }

  /**
   * A function of this name (unqualified, as stored) may exist outside pg_catalog, so an unqualified
   * call of it may run user code. True when the names were not loaded.
   */
  mayBeUserFunction(name: string): boolean {
    return this.userFunctions === undefined || this.userFunctions.has(name);
  }

  /**
   * Writing this relation may write others unseen (a view, triggers, rules, cascading foreign keys,
   * defaults calling user functions). An unqualified name counts when any schema has one so named.
   */
  hasHiddenWrites(ref: TableRef): boolean {
    return ref.schema === null ? this.hiddenWriterNames.has(ref.name) : this.hiddenWriters.has(qualify(ref.schema, ref.name));
  }

  isStale(table: string): boolean {
    const r = parseName(table);
    const node = r.schema === null ? undefined : this.bySchema.get(r.schema)?.get(r.name);
    return this.everythingStale || (node !== undefined && this.staleRoots.has(node.root));
  }

  /** The leaf partitions a write target can touch; undefined when its table is not managed. */
  resolve(target: WriteTarget, ctx: ResolveContext): Resolution | undefined {
    const node = this.find(target.table, ctx.searchPath, ctx.user);
    if (!node) return undefined;
    const all: Resolution = { root: node.root.qname, partitions: node.leaves, all: true };
    if (node.info.relkind !== 'p' || this.everythingStale || this.staleRoots.has(node.root)) return all;
    // ONLY on a partitioned table writes no row itself, but a wrong guess here costs nothing: stay wide.
    if (target.only) return all;
    const slotCtx: SlotContext = { params: ctx.params, paramTypes: ctx.paramTypes, sessionOffsetSec: sessionOffsetOf(ctx.timeZone) };
    let leaves: Set<string>;
    switch (target.command) {
      case 'insert':
        leaves = this.resolveInsert(node, target, slotCtx) ?? new Set(node.leaves);
        break;
      case 'update':
      case 'delete':
        leaves = this.resolveWhere(node, target, slotCtx) ?? new Set(node.leaves);
        break;
      default:
        // MERGE may insert rows its join condition says nothing about; COPY rows are not seen;
        // TRUNCATE empties the whole subtree; CALL is opaque.
        return all;
    }
    const partitions = [...leaves].sort((a, b) => this.leafOrder.get(a)! - this.leafOrder.get(b)!);
    return { root: node.root.qname, partitions, all: partitions.length === node.leaves.length };
  }

  /** Descends from `node`, at each level keeping the children `constraintsFor` allows. */
  private descend(node: Node, constraintsFor: (level: Level<Node>) => Constraint[], out: Set<string>): void {
    if (!node.level) {
      for (const l of node.leaves) out.add(l);
      return;
    }
    for (const child of matchLevel(node.level, constraintsFor(node.level))) this.descend(child, constraintsFor, out);
  }

  private keyColumnsAssigned(node: Node, setColumns: string[]): boolean {
    const assigned = new Set(setColumns);
    const walk = (n: Node): boolean =>
      (n.info.key?.parts.some((p) => p.column === null || assigned.has(p.column)) ?? false) || n.children.some(walk);
    return walk(node);
  }

  private resolveInsert(node: Node, target: WriteTarget, ctx: SlotContext): Set<string> | undefined {
    if (!target.insertRows) return undefined;
    // ON CONFLICT DO UPDATE SET on a key column could move the existing row.
    if (target.setColumns && target.setColumns.length > 0 && this.keyColumnsAssigned(node, target.setColumns)) return undefined;
    const columns = target.insertColumns ?? node.info.columns.map((c) => c.name);
    const out = new Set<string>();
    for (const row of target.insertRows) {
      const constraintsFor = (level: Level<Node>): Constraint[] =>
        level.parts.map((p) => {
          const column = p.info.column === null ? undefined : node.columns.get(p.info.column);
          if (!column || !p.codec) return { kind: 'any' };
          const i = columns.indexOf(column.name);
          const slot = i >= 0 && i < row.length ? row[i]! : { kind: 'default' as const };
          const v = decodeSlot(slot, p.info.typeOid, p.codec, column.default, ctx);
          return insertConstraint(v, p.codec, column.typmod);
        });
      this.descend(node, constraintsFor, out);
    }
    return out;
  }

  private resolveWhere(node: Node, target: WriteTarget, ctx: SlotContext): Set<string> | undefined {
    const where = target.where;
    if (!where) return undefined;
    if (target.command === 'update') {
      // An assigned key column can move rows anywhere in the tree (row movement).
      if (!target.setColumns || this.keyColumnsAssigned(node, target.setColumns)) return undefined;
    }
    const out = new Set<string>();
    this.descend(
      node,
      (level) =>
        level.parts.map((p) => {
          const cond = p.info.column === null ? undefined : Object.hasOwn(where, p.info.column) ? where[p.info.column] : undefined;
          if (!cond || !p.codec) return { kind: 'any' };
          const codec = p.codec;
          return whereConstraint(cond, (s) => decodeSlot(s, p.info.typeOid, codec, undefined, ctx));
        }),
      out,
    );
    return out;
  }
}

/** `schema.table` or `table` (double-quoted parts allowed) → a TableRef. */
export function parseName(name: string): TableRef {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < name.length; i++) {
    const ch = name[i]!;
    if (quoted) {
      if (ch === '"' && name[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === '.') {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return parts.length >= 2 ? { schema: parts[parts.length - 2]!, name: parts[parts.length - 1]! } : { schema: null, name: parts[0]! };
}
