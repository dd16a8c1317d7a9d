import pg from 'pg';
import { clientConfig, reclaimRuns, type PgTarget } from '../backup/index.js';
import { HEARTBEAT_MS, retrying, STALE_AFTER_MS, staleSql, startHeartbeat } from '../store/liveness.js';
import { silentLogger, type Logger } from '../util/log.js';
import type { BackupRunResult } from './backup-run.js';
import { RELEASE_RULES, WINDOW_MODES, type ReleaseRule, type WindowMode } from '../windows/window.js';

export const BACKUP_CHANNEL = 'quietcut_backup';

/** What a request row asks for: leaves, `table:schema.table`, or `*` for every managed partition. */
export function expandRequest(specs: readonly string[], leaves: readonly { name: string; root: string }[]): string[] {
  const out: string[] = [];
  const push = (p: string): void => {
    if (!out.includes(p)) out.push(p);
  };
  for (const s of specs) {
    if (s === '*') leaves.forEach((l) => push(l.name));
    else if (s.startsWith('table:')) {
      const t = s.slice('table:'.length);
      const members = leaves.filter((l) => l.root === t);
      if (members.length === 0) throw new Error(`unknown table ${t}: not a managed partitioned table`);
      members.forEach((l) => push(l.name));
    } else push(s);
  }
  return out;
}

export interface BackupRequestsOptions {
  pool: pg.Pool;
  target: PgTarget;
  node: string;
  log?: Logger;
  leaves: () => readonly string[];
  rootOf?: (p: string) => string;
  backup: (partitions: readonly string[], o: { mode?: WindowMode; release?: ReleaseRule; trigger: string; onProgress: (p: string, state: string) => void }) => Promise<BackupRunResult>;
  pollMs?: number;
  /** A claim whose heartbeat is older than this belongs to a dead node; default STALE_AFTER_MS. */
  staleAfterMs?: number;
}

/** A claimed row as read: nothing in it is trusted until parseRequest says so. */
interface RawRequestRow {
  id: string;
  partitions: unknown;
  mode: unknown;
  release: unknown;
}

export interface BackupRequest {
  id: string;
  partitions: string[];
  mode: WindowMode | null;
  release: ReleaseRule | null;
}

/** A request row that asks for something quietcut will not do; recorded as the request's result. */
export class InvalidRequestError extends Error {
  override name = 'InvalidRequestError';
}

const MAX_SPECS = 10_000;

/**
 * Everything read from quietcut.backup_requests is checked as strictly as `quietcut backup`
 * checks its flags: anyone allowed to insert a row must not be able to start a window that cannot
 * end (an unknown release rule once held a partition forever).
 */
export function parseRequest(row: RawRequestRow): BackupRequest {
  const bad = (what: string): never => {
    throw new InvalidRequestError(`refused request ${row.id}: ${what}`);
  };
  const oneOf = <T extends string>(v: unknown, allowed: readonly T[], column: string): T | null => {
    if (v === null || v === undefined) return null;
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
    return bad(`${column} ${JSON.stringify(v)} is not one of ${allowed.join(', ')}`);
  };
  const mode = oneOf(row.mode, WINDOW_MODES, 'mode');
  const release = oneOf(row.release, RELEASE_RULES, 'release');
  const specs = row.partitions;
  if (!Array.isArray(specs) || specs.length === 0) return bad('partitions must be a non-empty array');
  if (specs.length > MAX_SPECS) return bad(`more than ${MAX_SPECS} partitions`);
  const partitions = specs.map((s: unknown): string => {
    if (typeof s !== 'string' || s.length === 0) return bad(`partition ${JSON.stringify(s)} is not a name`);
    if (s === '*') return s;
    // Names are matched against the catalog's leaves later (a leaf may contain a dot, so they are
    // not split here); what can never be a name is refused now.
    if (s.length > 1000 || /[\u0000-\u001f]/.test(s) || s === 'table:') return bad(`partition ${JSON.stringify(s.slice(0, 100))} is not a name`);
    return s;
  });
  return { id: row.id, partitions, mode, release };
}

/**
 * Backups asked for through the database (`quietcut backup`): a row in quietcut.backup_requests
 * plus NOTIFY, so any node sees it, now or when it next polls. One node claims each request.
 */
export class BackupRequests {
  private listener: pg.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private again = false;
  private stopped = false;
  private readonly log: Logger;

  constructor(private readonly opts: BackupRequestsOptions) {
    this.log = opts.log ?? silentLogger;
  }

  async start(): Promise<void> {
    const c = new pg.Client(clientConfig(this.opts.target, 'quietcut listen'));
    c.on('error', (err) => this.log.warn({ err: err.message }, 'backup request listener lost; polling continues'));
    c.on('notification', () => this.poke());
    await c.connect();
    await c.query(`LISTEN ${BACKUP_CHANNEL}`);
    this.listener = c;
    this.timer = setInterval(() => this.poke(), this.opts.pollMs ?? 2000);
    this.timer.unref();
    this.poke();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.listener?.end().catch(() => undefined);
  }

  private poke(): void {
    if (this.stopped) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    void this.drain()
      .catch((err: unknown) => this.log.warn({ err }, 'backup request handling failed'))
      .finally(() => {
        this.busy = false;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
  }

  /**
   * Finish what dead nodes left: their claimed requests get an error result (so `quietcut backup`
   * stops waiting) and their runs end aborted. `ownAreDead` once at start, when this node's own
   * earlier claims cannot be in progress any more.
   */
  async reclaim(ownAreDead = false): Promise<void> {
    const staleAfterMs = this.opts.staleAfterMs ?? STALE_AFTER_MS;
    const { rows } = await this.opts.pool.query<{ id: string; claimed_by: string }>(
      `UPDATE quietcut.backup_requests SET done_at = now(),
              result = coalesce(result, '{}'::jsonb) || jsonb_build_object('error',
                CASE WHEN claimed_by = $1 AND $2 THEN format('node %s restarted before finishing the request', claimed_by)
                     ELSE format('node %s stopped before finishing the request (last heartbeat %s)', claimed_by, coalesce(heartbeat_at, claimed_at)) END)
        WHERE done_at IS NULL AND claimed_by IS NOT NULL
          AND ((claimed_by = $1 AND $2) OR ${staleSql('heartbeat_at', 'claimed_at', '$3', 'claimed_by')})
        RETURNING id::text, claimed_by`,
      [this.opts.node, ownAreDead, staleAfterMs],
    );
    for (const r of rows) this.log.warn({ request: r.id, node: r.claimed_by }, 'reclaimed an abandoned backup request');
    const c = await this.opts.pool.connect();
    try {
      await reclaimRuns(c, { node: this.opts.node, ownAreDead, staleAfterMs, log: this.log });
    } finally {
      c.release();
    }
  }

  private async drain(): Promise<void> {
    await this.reclaim();
    for (;;) {
      const row = await this.claim();
      if (!row) return;
      await this.handle(row);
    }
  }

  private async claim(): Promise<BackupRequest | null> {
    for (;;) {
      const row = await this.claimRow();
      if (!row) return null;
      try {
        return parseRequest(row);
      } catch (err) {
        if (!(err instanceof InvalidRequestError)) throw err;
        this.log.warn({ request: row.id, err: err.message }, 'backup request refused');
        await this.opts.pool.query('UPDATE quietcut.backup_requests SET done_at = now(), result = $2::jsonb WHERE id = $1', [row.id, JSON.stringify({ error: err.message, refused: true })]);
      }
    }
  }

  private async claimRow(): Promise<RawRequestRow | null> {
    const { rows } = await this.opts.pool.query<RawRequestRow>(
      `UPDATE quietcut.backup_requests SET claimed_by = $1, claimed_at = now(), heartbeat_at = now()
        WHERE id = (SELECT id FROM quietcut.backup_requests WHERE claimed_by IS NULL ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
        RETURNING id::text, partitions, mode, release`,
      [this.opts.node],
    );
    return rows[0] ?? null;
  }

  private async handle(row: BackupRequest): Promise<void> {
    const progress: Record<string, string> = {};
    let lastWrite = 0;
    let pending: Promise<unknown> = Promise.resolve();
    const save = (force: boolean): void => {
      const now = Date.now();
      if (!force && now - lastWrite < 150) return;
      lastWrite = now;
      const snapshot = JSON.stringify({ progress });
      pending = pending.then(() => this.opts.pool.query('UPDATE quietcut.backup_requests SET result = $2::jsonb WHERE id = $1 AND done_at IS NULL', [row.id, snapshot])).catch(() => undefined);
    };
    const beat = startHeartbeat(this.opts.pool, 'UPDATE quietcut.backup_requests SET heartbeat_at = now() WHERE id = $1 AND done_at IS NULL', [row.id], HEARTBEAT_MS);
    // The result must reach the row even across a PostgreSQL restart, or the asker waits in vain.
    const finish = (result: unknown, runId: string | null): Promise<unknown> =>
      retrying(() => this.opts.pool.query('UPDATE quietcut.backup_requests SET done_at = now(), run_id = $2, result = $3::jsonb WHERE id = $1', [row.id, runId, JSON.stringify(result)]));
    try {
      const leaves = this.opts.leaves().map((name) => ({ name, root: this.opts.rootOf?.(name) ?? name }));
      const partitions = expandRequest(row.partitions, leaves);
      for (const p of partitions) progress[p] = 'queued';
      save(true);
      const result = await this.opts.backup(partitions, {
        ...(row.mode ? { mode: row.mode } : {}),
        ...(row.release ? { release: row.release } : {}),
        trigger: 'request',
        onProgress: (p, state) => {
          progress[p] = state;
          save(false);
        },
      });
      await pending;
      await finish({ progress, run: result }, result.runId);
    } catch (err) {
      await pending;
      await finish({ progress, error: (err as Error).message }, null);
    } finally {
      beat();
    }
  }
}
