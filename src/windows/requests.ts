import pg from 'pg';
import { clientConfig, type PgTarget } from '../backup/index.js';
import { silentLogger, type Logger } from '../util/log.js';
import type { BackupRunResult } from './backup-run.js';
import type { ReleaseRule, WindowMode } from './window.js';

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
}

interface RequestRow {
  id: string;
  partitions: string[];
  mode: WindowMode | null;
  release: ReleaseRule | null;
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

  private async drain(): Promise<void> {
    for (;;) {
      const row = await this.claim();
      if (!row) return;
      await this.handle(row);
    }
  }

  private async claim(): Promise<RequestRow | null> {
    const { rows } = await this.opts.pool.query<RequestRow>(
      `UPDATE quietcut.backup_requests SET claimed_by = $1, claimed_at = now()
        WHERE id = (SELECT id FROM quietcut.backup_requests WHERE claimed_by IS NULL ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
        RETURNING id::text, partitions, mode, release`,
      [this.opts.node],
    );
    return rows[0] ?? null;
  }

  private async handle(row: RequestRow): Promise<void> {
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
      await this.opts.pool.query('UPDATE quietcut.backup_requests SET done_at = now(), run_id = $2, result = $3::jsonb WHERE id = $1', [row.id, result.runId, JSON.stringify({ progress, run: result })]);
    } catch (err) {
      await pending;
      await this.opts.pool.query('UPDATE quietcut.backup_requests SET done_at = now(), result = $2::jsonb WHERE id = $1', [row.id, JSON.stringify({ progress, error: (err as Error).message })]);
    }
  }
}
