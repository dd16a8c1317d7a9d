import type { Catalog } from '../catalog/catalog.js';
import type { BindParam } from '../catalog/slot-values.js';
import type { TxStatus } from '../protocol/codes.js';
import type { BindMessage, ParseMessage } from '../protocol/decode.js';
import { rowsFromTag } from '../protocol/decode.js';
import { parseSearchPath } from '../sql/search-path.js';
import type { ClassifiedStatement, TableRef, WriteTarget } from '../sql/types.js';
import { nonMvccWrite, unknownWrite, type FailClosedReason } from './gate.js';
import type { SessionInspector } from './inspector.js';
import { TxPredictor } from './tx-predictor.js';
import { SessionSettings } from './session-settings.js';
import { functionMayWrite } from './function-safety.js';

/** Where classified statements come from (sql/ SqlClassifier). */
export interface StatementClassifier {
  classify(sql: string): readonly ClassifiedStatement[];
  /** Simple Query texts: statements of the text's literal-normalized shape, and the literals as $1..$n. */
  classifyQuery?(sql: string): { stmts: readonly ClassifiedStatement[]; literals: readonly string[] | null };
}

/** Where completed writes are counted (stats/ WriteRecorder). */
export interface WriteSink {
  record(table: string, partitions: readonly string[], rows: number): void;
}

/** State shared by every session of one node. */
export interface InspectorShared {
  classifier: StatementClassifier;
  /** The current catalog (swapped whole on refresh). */
  catalog: () => Catalog | undefined;
  /** DDL seen through the proxy: mark the table stale and reload soon (null: reload everything). */
  markStale: (ref: TableRef | null, searchPath: string[], user: string) => void;
  sink: WriteSink;
  /** Functions configured as writing tables: schema.function or function → schema.table list. */
  writingFunctions: ReadonlyMap<string, readonly string[]>;
  /** Prepared transactions (PREPARE TRANSACTION gid) → partitions they wrote; any session may COMMIT PREPARED. */
  preparedGids: Map<string, ReadonlySet<string>>;
  /** Statements whose targets could not be known (unparsable SQL, DO blocks, fast-path function calls). */
  unclassified: () => void;
  /**
   * Fail closed (the default): a request whose write set is unknown carries an unknownWrite marker
   * in its visible set (held while any window is open, drained before any cut), and statements that
   * are not MVCC-safe carry nonMvccWrite markers. false: the user accepts the risk; only counted.
   */
  failClosed?: boolean;
  /** Functions known not to write (schema.function or function), beyond pg_catalog's. */
  readOnlyFunctions?: ReadonlySet<string>;
}

/** What one statement does, resolved to partitions. */
interface Resolved {
  stmt: ClassifiedStatement;
  /** partitions written, by root table */
  writes: Map<string, string[]>;
  all: ReadonlySet<string>;
  /** A target may write other tables unseen (view, trigger, rule, cascading key): write set unknown. */
  hidden?: true;
  /** The writes are not MVCC-safe (TRUNCATE, of every partition in `all`). */
  nonMvcc?: true;
}

/** A portal bound to a statement the inspector never saw parsed. */
const UNKNOWN_PORTAL: Resolved[] = [];
/** Last element of a portal bound under session settings the proxy does not model. */
const SETTINGS_PORTAL_MARK: Resolved = { stmt: { kind: 'other', targets: [] }, writes: new Map(), all: new Set() };
/** A name no catalog holds: marking it stale marks every table stale. */
const UNKNOWN_TABLE: TableRef = { schema: null, name: '' };

interface Prepared {
  stmts: readonly ClassifiedStatement[];
  /** Parsed under session settings that make the proxy read its text differently from the server. */
  misread: boolean;
  /** Parameter types from Parse; undefined for SQL PREPARE (the server infers them). */
  paramTypes: number[] | undefined;
  /** What every Bind of it resolves to when no parameter can matter (reads, transaction control). */
  paramFree: Resolved[] | null;
}

/** A statement sent, awaiting its CommandComplete: what to count it against. */
interface Pending {
  writes: Map<string, string[]> | null;
  /** The request it belongs to (TxPredictor numbering). */
  request: number;
}

const EMPTY: ReadonlySet<string> = new Set();
const DEFAULT_SEARCH_PATH = ['"$user"', 'public'];

/**
 * The SessionInspector that knows SQL: classifies every statement, resolves its write targets to
 * partitions, tracks what the open transaction has written (so a COMMIT can be classified), and
 * counts completed writes. Never fewer partitions than the statement may write.
 */
export class WriteInspector implements SessionInspector {
  private searchPath: string[] = DEFAULT_SEARCH_PATH;
  private readonly user: string;
  private timeZone: string | undefined;
  /**
   * Prepared statements by name. PostgreSQL has one namespace for protocol Parse and SQL PREPARE:
   * a statement prepared one way can be executed (and closed, deallocated) the other way.
   */
  private readonly statements = new Map<string, Prepared>();
  private readonly portals = new Map<string, Resolved[]>();
  /** Transaction state and what can become visible, predicted from the client's stream. */
  private readonly tx = new TxPredictor();
  private pending: Pending[] = [];
  private pendingHead = 0;
  private readonly settings = new SessionSettings();
  /** Tables changed by DDL not yet known committed or rolled back: marked stale again when the transaction ends (see readyForQuery). */
  private txDdl: Array<TableRef | null> = [];

  constructor(
    private readonly shared: InspectorShared,
    params: ReadonlyMap<string, string>,
  ) {
    this.user = params.get('user') ?? '';
    const opts = params.get('options');
    // search_path given at connect time: -c search_path=... (or --search_path=...)
    const m = opts ? /(?:-c\s*|--)search_path=((?:\\ |[^ ])+)/.exec(opts) : null;
    if (m?.[1]) this.searchPath = safeSearchPath(m[1].replaceAll('\\ ', ' '));
  }

  get visible(): ReadonlySet<string> {
    return this.tx.visible;
  }

  takeRequest(): ReadonlySet<string> {
    return this.tx.takeRequest();
  }

  // ------------------------------------------------------------ client messages

  query(sql: string): void {
    const misread = this.settings.misreads(sql);
    if (misread) this.unknownEverywhere('session_setting');
    const c = this.shared.classifier;
    let stmts: readonly ClassifiedStatement[];
    let params: BindParam[] | undefined;
    if (c.classifyQuery) {
      const q = c.classifyQuery(sql);
      stmts = q.stmts;
      if (q.literals) params = q.literals.map((v) => ({ value: Buffer.from(v, 'utf8'), format: 0 as const }));
    } else {
      stmts = c.classify(sql);
    }
    for (const stmt of stmts) {
      const r = this.resolveStatement(stmt, params, undefined);
      this.apply(r);
      // A SET of a setting that changes how SQL reads: later statements of this text are misread.
      if (this.settings.pending) this.unknownEverywhere('session_setting');
      this.pending.push({ writes: r.writes.size > 0 ? r.writes : null, request: this.tx.request });
    }
  }

  parse(msg: ParseMessage): void {
    const stmts = this.shared.classifier.classify(msg.sql);
    const writesNothing = stmts.every((s) => this.needsNoParams(s));
    const misread = this.settings.misreads(msg.sql, !writesNothing);
    const paramFree = !misread && writesNothing ? stmts.map((stmt) => ({ stmt, writes: new Map<string, string[]>(), all: EMPTY })) : null;
    this.statements.set(msg.name, { stmts, paramTypes: msg.paramTypes, paramFree, misread });
    // DDL and SET take effect at Execute; nothing to do yet.
  }

  bind(msg: BindMessage): void {
    const prepared = this.statements.get(msg.statement);
    if (!prepared) {
      // Never prepared, or deallocated: the server answers with an error; nothing known of it.
      this.portals.set(msg.portal, UNKNOWN_PORTAL);
      return;
    }
    if (prepared.misread || this.settings.misreadsParams(msg.params)) {
      this.portals.set(msg.portal, [...prepared.stmts.map((s) => this.resolveStatement(s, undefined, prepared.paramTypes)), SETTINGS_PORTAL_MARK]);
      return;
    }
    if (prepared.paramFree) {
      // The common read: no parameter values to decode, nothing to resolve per Bind.
      this.portals.set(msg.portal, prepared.paramFree);
      return;
    }
    const params: BindParam[] = msg.params;
    this.portals.set(
      msg.portal,
      prepared.stmts.map((s) => this.resolveStatement(s, params, prepared.paramTypes)),
    );
  }

  /** A statement whose resolution cannot depend on parameters or the catalog: it writes nothing. */
  private needsNoParams(s: ClassifiedStatement): boolean {
    // apply() still sees the statement's own flags (functions, DO, unparsed) at every Execute.
    if (s.targets.length > 0 || s.execute) return false;
    return !s.functions?.some((f) => writingTables(this.shared.writingFunctions, f) !== undefined);
  }

  execute(portal: string): void {
    const resolved = this.portals.get(portal);
    if (!resolved || resolved === UNKNOWN_PORTAL) {
      this.unknown('unknown_statement');
      this.pending.push({ writes: null, request: this.tx.request });
      return;
    }
    let writes: Map<string, string[]> | null = null;
    for (const r of resolved) {
      if (r === SETTINGS_PORTAL_MARK) {
        this.unknownEverywhere('session_setting');
        continue;
      }
      this.apply(r);
      if (r.writes.size > 0) writes = r.writes;
    }
    this.pending.push({ writes, request: this.tx.request });
  }

  close(kind: 'S' | 'P', name: string): void {
    if (kind === 'S') this.statements.delete(name);
    else this.portals.delete(name);
  }

  functionCall(reason: FailClosedReason = 'fast_path_call'): void {
    this.unknown(reason);
    this.pending.push({ writes: null, request: this.tx.request });
  }

  // ------------------------------------------------------------ server messages

  commandComplete(tag: string): void {
    const p = this.pending[this.pendingHead++];
    if (!p?.writes) return;
    const rows = rowsFromTag(tag);
    for (const [table, partitions] of p.writes) this.shared.sink.record(table, partitions, rows);
  }

  error(): void {
    // The failed statement wrote nothing; later ones in the same Query/pipeline are skipped by the server.
    this.pendingHead++;
  }

  statementEnded(): void {
    // PortalSuspended (row limit) or EmptyQueryResponse: this statement's place in the queue is done.
    this.pendingHead++;
  }

  readyForQuery(status: TxStatus, answered: number): void {
    // Statements of the answered request that got no CommandComplete (skipped after an error)
    // are done; those of requests pipelined after it still wait for theirs.
    const pending = this.pending;
    let head = this.pendingHead;
    while (head < pending.length && pending[head]!.request <= answered) head++;
    if (head === pending.length) {
      pending.length = 0;
      head = 0;
    }
    // ParameterStatus for every changed reported setting came before this: the settings are known again.
    this.settings.settled();
    if (status === 'I' && this.txDdl.length > 0) {
      // The transaction that changed these tables has ended: a catalog load that began before now
      // may have read the old definitions, so they stay stale until one that begins after lands.
      for (const t of this.txDdl) this.markDdl(t);
      this.txDdl = [];
    }
    this.pendingHead = head;
    this.tx.readyForQuery(status, answered);
  }

  parameterStatus(name: string, value: string): void {
    if (name === 'TimeZone') this.timeZone = value;
    else if (name === 'search_path') this.searchPath = safeSearchPath(value);
    this.settings.reported(name, value);
  }

  // ------------------------------------------------------------ fail closed

  /** The current statement's write set is unknown: it counts as touching every windowed partition. */
  private unknown(reason: FailClosedReason): void {
    this.shared.unclassified();
    if (this.shared.failClosed === false) return;
    this.tx.write([unknownWrite(reason)]);
  }

  /** The text itself may be misread: neither the request nor the transaction it may be in is known. */
  private unknownEverywhere(reason: FailClosedReason): void {
    this.shared.unclassified();
    if (this.shared.failClosed === false) return;
    this.tx.write([unknownWrite(reason)]);
    this.tx.visibleNow(unknownWrite(reason));
  }

  /** Statements that are not MVCC-safe on these partitions (null: on tables not known). */
  private nonMvcc(partitions: readonly string[] | null): void {
    if (this.shared.failClosed === false) return;
    if (partitions === null) this.tx.write([nonMvccWrite(null)]);
    else this.tx.write(partitions.map((p) => nonMvccWrite(p)));
  }

  /** DDL of a table (null: of tables not known): stale until a catalog load begun after it lands. */
  private markDdl(t: TableRef | null): void {
    // A name no catalog holds marks every table stale (CatalogRefresher/Catalog.markStale).
    this.shared.markStale(t ?? UNKNOWN_TABLE, this.searchPath, this.user);
  }

  // ------------------------------------------------------------ classification

  /** Apply one executed statement to the transaction state and the request's visible set. */
  private apply(r: Resolved): void {
    const s = r.stmt;
    if (s.kind === 'tx' && s.tx) {
      switch (s.tx.op) {
        case 'begin':
          this.tx.begin();
          return;
        case 'commit':
          this.tx.commit(s.tx.chain === true);
          return;
        case 'rollback':
          this.tx.rollback(s.tx.chain === true);
          return;
        case 'prepare': {
          const held = this.tx.prepare();
          if (s.tx.name !== undefined) this.shared.preparedGids.set(s.tx.name, held);
          return;
        }
        case 'commit_prepared': {
          const w = s.tx.name !== undefined ? this.shared.preparedGids.get(s.tx.name) : undefined;
          if (w) {
            this.tx.commitPrepared(w);
            this.shared.preparedGids.delete(s.tx.name!);
          } else {
            // Prepared before quietcut saw it (another node, or before a restart): unknown.
            this.unknown('unknown_prepared_gid');
          }
          return;
        }
        case 'rollback_prepared':
          if (s.tx.name !== undefined) this.shared.preparedGids.delete(s.tx.name);
          return;
        default:
          // savepoint / release / rollback to: keep what was written (never fewer)
          return;
      }
    }
    if (s.searchPath !== undefined) this.searchPath = s.searchPath ?? DEFAULT_SEARCH_PATH;
    if (s.settingChange) this.settings.changing();
    if (s.kind === 'ddl' && s.ddlTables) {
      const tables = s.ddlTables.length === 0 ? [null] : s.ddlTables;
      for (const t of tables) this.markDdl(t);
      // Marked now (the statement may already be running) and again once it has ended, since a
      // load begun in between read the definitions from before it committed.
      this.txDdl.push(...tables);
      // DDL of a managed table may rewrite it, or detach/drop it: not MVCC-safe for a dump.
      this.nonMvcc(this.leavesOf(tables));
    }
    if (s.nonMvcc) this.nonMvcc(this.leavesOf(s.nonMvcc.length === 0 ? [null] : s.nonMvcc));
    if (s.prepare) this.statements.set(s.prepare.name, { stmts: [s.prepare.statement], paramTypes: undefined, paramFree: null, misread: false });
    if (s.deallocate !== undefined) this.deallocate(s.deallocate);
    if (s.kind === 'unparsed') this.unknown('unparsed');
    if (s.unseen?.includes('do_block')) this.unknown('do_block');
    if (s.unseen?.includes('truncate_cascade')) this.nonMvcc(null);
    if (s.functions && this.anyFunctionMayWrite(s.functions)) this.unknown('function');
    if (r.hidden) this.unknown('hidden_write');
    if (r.nonMvcc) this.nonMvcc([...r.all]);
    if (r.all.size === 0) return;
    this.tx.write(r.all);
  }

  /** DEALLOCATE name, or (null) DEALLOCATE ALL / DISCARD ALL: every named statement, however prepared. */
  private deallocate(name: string | null): void {
    if (name !== null) {
      this.statements.delete(name);
      return;
    }
    const unnamed = this.statements.get('');
    this.statements.clear();
    if (unnamed) this.statements.set('', unnamed);
  }

  private resolveStatement(stmt: ClassifiedStatement, params: ReadonlyArray<BindParam> | undefined, paramTypes: number[] | undefined): Resolved {
    if (stmt.execute) {
      // EXECUTE name(args): resolve the prepared statement (SQL PREPARE or protocol Parse, one
      // namespace) with its arguments as text parameters.
      const prepared = stmt.execute.name === '' ? undefined : this.statements.get(stmt.execute.name);
      const inner = prepared?.stmts.length === 1 ? prepared.stmts[0] : undefined;
      if (!inner) {
        this.unknown('unknown_statement');
        return { stmt, writes: new Map(), all: EMPTY };
      }
      // Arguments are literals, or (a normalized Query text) $n standing for its literals.
      const arg = (p: (typeof stmt.execute.params)[number]): BindParam | undefined =>
        p.kind === 'const' ? { value: p.value !== null ? Buffer.from(p.value, 'utf8') : null, format: 0 } : p.kind === 'param' && params ? params[p.index - 1] : undefined;
      const mapped = stmt.execute.params.map(arg);
      const args: BindParam[] | undefined = mapped.every((a) => a !== undefined) ? (mapped as BindParam[]) : undefined;
      const r = this.resolveStatement(inner, args, undefined);
      // The inner statement's own flags (functions, DO, ...) apply when it runs.
      return { ...r, stmt: { ...inner, ...(stmt.functions ? { functions: [...(inner.functions ?? []), ...stmt.functions] } : {}) } };
    }
    const writes = new Map<string, string[]>();
    const catalog = this.shared.catalog();
    let hidden = false;
    let nonMvcc = false;
    if (catalog && stmt.targets.length > 0) {
      for (const t of stmt.targets) {
        this.resolveTarget(catalog, t, params, paramTypes, writes);
        if (catalog.hasHiddenWrites(t.table)) hidden = true;
        if (t.command === 'truncate') nonMvcc = true;
      }
    }
    if (catalog && stmt.functions && this.shared.writingFunctions.size > 0) {
      for (const f of stmt.functions) {
        const tables = writingTables(this.shared.writingFunctions, f);
        if (!tables) continue;
        for (const name of tables) {
          const dot = name.indexOf('.');
          const entry = catalog.lookup({ schema: dot > 0 ? name.slice(0, dot) : null, name: dot > 0 ? name.slice(dot + 1) : name }, this.searchPath, this.user);
          if (entry) addWrites(writes, entry.root, entry.leaves);
        }
      }
    }
    const flags = { ...(hidden ? { hidden: true as const } : {}), ...(nonMvcc ? { nonMvcc: true as const } : {}) };
    if (writes.size === 0) return { stmt, writes, all: EMPTY, ...flags };
    const all = new Set<string>();
    for (const ps of writes.values()) for (const p of ps) all.add(p);
    return { stmt, writes, all, ...flags };
  }

  /** Every managed leaf under these tables (null entries, or no catalog: not known → null). */
  private leavesOf(tables: ReadonlyArray<TableRef | null>): string[] | null {
    const catalog = this.shared.catalog();
    if (!catalog) return null;
    const out = new Set<string>();
    for (const t of tables) {
      if (t === null) return null;
      const schemas = t.schema !== null ? [t.schema] : schemasWithName(catalog, t.name);
      for (const schema of schemas) {
        const e = catalog.lookup({ schema, name: t.name }, [schema], this.user);
        if (e) for (const l of e.leaves) out.add(l);
      }
    }
    return [...out];
  }

  private anyFunctionMayWrite(functions: readonly string[]): boolean {
    const catalog = this.shared.catalog();
    for (const f of functions) {
      if (writingTables(this.shared.writingFunctions, f) !== undefined) continue; // its writes are known
      if (functionMayWrite(f, catalog, this.shared.readOnlyFunctions)) return true;
    }
    return false;
  }

  private resolveTarget(catalog: Catalog, t: WriteTarget, params: ReadonlyArray<BindParam> | undefined, paramTypes: number[] | undefined, out: Map<string, string[]>): void {
    const ctx = {
      searchPath: this.searchPath,
      user: this.user,
      ...(params ? { params } : {}),
      ...(paramTypes ? { paramTypes } : {}),
      ...(this.timeZone ? { timeZone: this.timeZone } : {}),
    };
    if (t.table.schema !== null) {
      const r = catalog.resolve(t, ctx);
      if (r) addWrites(out, r.root, r.partitions);
      return;
    }
    // An unqualified name: role or database defaults may set a search_path we cannot see, so
    // resolve it in every schema that has a managed table of that name (never fewer).
    for (const schema of schemasWithName(catalog, t.table.name)) {
      const r = catalog.resolve({ ...t, table: { schema, name: t.table.name } }, ctx);
      if (r) addWrites(out, r.root, r.partitions);
    }
  }
}

function addWrites(out: Map<string, string[]>, root: string, partitions: readonly string[]): void {
  const have = out.get(root);
  if (!have) {
    out.set(root, [...partitions]);
    return;
  }
  for (const p of partitions) if (!have.includes(p)) have.push(p);
}

const nameIndex = new WeakMap<Catalog, Map<string, string[]>>();

/** Schemas holding a managed relation (root, intermediate or leaf) with this name. */
function schemasWithName(catalog: Catalog, name: string): string[] {
  let idx = nameIndex.get(catalog);
  if (!idx) {
    idx = new Map();
    const names = new Set<string>([...catalog.tables(), ...catalog.leaves().map((l) => l.name)]);
    const schemas = new Set<string>();
    for (const q of names) schemas.add(q.slice(0, q.indexOf('.')));
    // intermediates are found through lookup per schema below, lazily
    nameIndex.set(catalog, idx);
    (idx as Map<string, string[]> & { schemas?: string[] }).schemas = [...schemas];
  }
  const cached = idx.get(name);
  if (cached) return cached;
  const schemas = (idx as Map<string, string[]> & { schemas?: string[] }).schemas ?? [];
  const found = schemas.filter((s) => catalog.lookup({ schema: s, name }, [s], '') !== undefined);
  if (idx.size < 10_000) idx.set(name, found);
  return found;
}

const fnIndex = new WeakMap<ReadonlyMap<string, readonly string[]>, Map<string, string[]>>();

/** Tables a called function writes: matched on the name as called, qualified or not. */
function writingTables(fns: ReadonlyMap<string, readonly string[]>, called: string): readonly string[] | undefined {
  let idx = fnIndex.get(fns);
  if (!idx) {
    idx = new Map();
    for (const [k, tables] of fns) {
      for (const key of [k.toLowerCase(), k.slice(k.lastIndexOf('.') + 1).toLowerCase()]) {
        idx.set(key, [...(idx.get(key) ?? []), ...tables]);
      }
    }
    fnIndex.set(fns, idx);
  }
  const c = called.toLowerCase();
  return idx.get(c) ?? (c.includes('.') ? undefined : undefined);
}

function safeSearchPath(text: string): string[] {
  try {
    return parseSearchPath(text);
  } catch {
    return DEFAULT_SEARCH_PATH;
  }
}
