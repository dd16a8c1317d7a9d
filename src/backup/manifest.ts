import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { DIR_MODE, writeFileAtomic } from './files.js';

/**
 * `<backup.dir>/<run-id>/manifest.json`: what one run produced, one entry per partition. It is the
 * source of truth for verify and retention, so it is validated when read, and a partition is only
 * `good` with every field that verify needs.
 */
export const MANIFEST_NAME = 'manifest.json';
export const MANIFEST_FORMAT = 'quietcut-backup-manifest';

const iso = z.iso.datetime({ offset: true });
const tableName = z.strictObject({ schema: z.string().min(1), name: z.string().min(1) });

export const partitionStatusSchema = z.enum(['good', 'failed', 'aborted']);
export type PartitionStatus = z.infer<typeof partitionStatusSchema>;

const durations = z.strictObject({
  /** Window start to release (time writes to the partition were held or rejected). */
  windowMs: z.number().nonnegative().nullable(),
  dumpMs: z.number().nonnegative().nullable(),
  checksumMs: z.number().nonnegative().nullable(),
});

const common = {
  /** `schema.leaf`, unquoted: the key in config, metrics and the runs table. */
  partition: z.string().min(1),
  table: tableName,
  group: z.string().min(1),
  reason: z.string().nullable(),
  cutAt: iso.nullable(),
  windowStart: iso.nullable(),
  windowEnd: iso.nullable(),
  snapshotId: z.string().nullable(),
  walLsn: z.string().regex(/^[0-9A-F]+\/[0-9A-F]+$/i).nullable(),
  held: z.number().int().nonnegative(),
  rejected: z.number().int().nonnegative(),
  durations,
  /** Set by retention when the artifact was removed; the entry stays as history. */
  prunedAt: iso.nullable().default(null),
  /**
   * Cross-server cuts: the foreign server the rows live on and the remote table that was dumped
   * there (`tables` then names remote tables). Absent for a partition on the fronted server.
   */
  server: z.string().min(1).optional(),
  remoteTable: tableName.optional(),
};

/** One server's snapshot in one group's cut: what makes a cross-server backup auditable. */
export const manifestCutSchema = z.strictObject({
  group: z.string().min(1),
  /** `(fronted)` for the server quietcut proxies, else the foreign server's name. */
  server: z.string().min(1),
  host: z.string(),
  port: z.number().int(),
  database: z.string(),
  snapshotId: z.string().min(1),
  walLsn: z.string().regex(/^[0-9A-F]+\/[0-9A-F]+$/i),
  cutAt: iso,
  /** Time the export took on this server (the slowest one bounds the hold). */
  pinMs: z.number().nonnegative(),
});
export type ManifestCut = z.infer<typeof manifestCutSchema>;

const goodEntry = z.strictObject({
  ...common,
  status: z.literal('good'),
  file: z.string().regex(/^[^/\\]+\.dump$/, 'a file name inside the run directory'),
  /** Everything the artifact holds: ancestors root first, then the leaf. */
  tables: z.array(tableName).min(1),
  rows: z.number().int().nonnegative(),
  checksum: z.string().regex(/^[0-9a-f]{32}$/),
  checksumAlgorithm: z.string().min(1),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  pgDumpVersion: z.string().min(1),
});

const badEntry = z.strictObject({
  ...common,
  status: z.enum(['failed', 'aborted']),
  reason: z.string().min(1),
  file: z.null(),
  tables: z.array(tableName),
  rows: z.number().int().nonnegative().nullable(),
  checksum: z.string().nullable(),
  checksumAlgorithm: z.string().nullable(),
  bytes: z.null(),
  sha256: z.null(),
  pgDumpVersion: z.string().nullable(),
});

export const manifestPartitionSchema = z.discriminatedUnion('status', [goodEntry, badEntry]);
export type ManifestPartition = z.infer<typeof manifestPartitionSchema>;
export type GoodPartition = z.infer<typeof goodEntry>;
export type FailedPartition = z.infer<typeof badEntry>;
export type ManifestPartitionInput = z.input<typeof manifestPartitionSchema>;

export const manifestSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT),
  version: z.literal(1),
  runId: z.string().min(1),
  createdAt: iso,
  updatedAt: iso,
  node: z.string(),
  trigger: z.string(),
  /** Where the data came from; never a password. */
  source: z.strictObject({
    host: z.string(),
    port: z.number().int(),
    database: z.string(),
    /** pg_control_system().system_identifier of the cluster; scopes retention (absent in older runs). */
    systemIdentifier: z.string().regex(/^\d+$/).optional(),
  }),
  /** running while partitions are still being dumped; then the worst partition status. */
  status: z.enum(['running', 'good', 'failed', 'aborted']),
  partitions: z.array(manifestPartitionSchema),
  /** Every server's snapshot per group; absent in runs written before cross-server cuts. */
  cuts: z.array(manifestCutSchema).optional(),
});
export type Manifest = z.infer<typeof manifestSchema>;

export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

export function newManifest(init: { runId: string; node: string; trigger: string; source: Manifest['source']; now?: Date }): Manifest {
  const at = (init.now ?? new Date()).toISOString();
  return { format: MANIFEST_FORMAT, version: 1, runId: init.runId, createdAt: at, updatedAt: at, node: init.node, trigger: init.trigger, source: init.source, status: 'running', partitions: [] };
}

/** A run is good only when every partition is; aborted beats failed beats good. */
export function overallStatus(parts: readonly ManifestPartition[]): 'good' | 'failed' | 'aborted' {
  if (parts.some((p) => p.status === 'aborted')) return 'aborted';
  if (parts.some((p) => p.status === 'failed')) return 'failed';
  return 'good';
}

/** Replace the entry for the same partition or append; validates the entry. */
export function upsertPartition(m: Manifest, entry: ManifestPartitionInput, now: Date = new Date()): Manifest {
  const parsed = manifestPartitionSchema.safeParse(entry);
  if (!parsed.success) throw new ManifestError(`invalid manifest entry for ${entry.partition}: ${z.prettifyError(parsed.error)}`);
  const partitions = m.partitions.filter((p) => p.partition !== parsed.data.partition);
  partitions.push(parsed.data);
  return { ...m, updatedAt: now.toISOString(), partitions };
}

export function finishManifest(m: Manifest, now: Date = new Date()): Manifest {
  return { ...m, updatedAt: now.toISOString(), status: overallStatus(m.partitions) };
}

export async function writeManifest(runDir: string, m: Manifest): Promise<string> {
  const parsed = manifestSchema.safeParse(m);
  if (!parsed.success) throw new ManifestError(`refusing to write an invalid manifest: ${z.prettifyError(parsed.error)}`);
  await mkdir(runDir, { recursive: true, mode: DIR_MODE });
  const path = join(runDir, MANIFEST_NAME);
  await writeFileAtomic(path, JSON.stringify(parsed.data, null, 2) + '\n');
  return path;
}

export async function readManifest(runDir: string): Promise<Manifest> {
  const path = join(runDir, MANIFEST_NAME);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ManifestError(`cannot read ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(`${path} is not JSON: ${(err as Error).message}`);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) throw new ManifestError(`${path}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/**
 * One run's manifest, kept in memory and rewritten whole after each change. Partitions of one run
 * finish concurrently, so writes are chained: the last write always carries every entry.
 */
export class RunManifest {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly runDir: string,
    private current: Manifest,
  ) {}

  get manifest(): Manifest {
    return this.current;
  }

  /** Write the initial (running) manifest so an interrupted run still leaves a record. */
  start(): Promise<void> {
    return this.enqueue(() => this.current);
  }

  record(entry: ManifestPartitionInput): Promise<void> {
    return this.enqueue(() => (this.current = upsertPartition(this.current, entry)));
  }

  /** Record the snapshots of one group's cut, one per server. */
  recordCuts(cuts: readonly ManifestCut[]): Promise<void> {
    return this.enqueue(() => {
      for (const c of cuts) {
        const parsed = manifestCutSchema.safeParse(c);
        if (!parsed.success) throw new ManifestError(`invalid cut for ${c.group} on ${c.server}: ${z.prettifyError(parsed.error)}`);
      }
      return (this.current = { ...this.current, updatedAt: new Date().toISOString(), cuts: [...(this.current.cuts ?? []), ...cuts] });
    });
  }

  finish(): Promise<void> {
    return this.enqueue(() => (this.current = finishManifest(this.current)));
  }

  private enqueue(change: () => Manifest): Promise<void> {
    const next = this.chain.then(async () => {
      const m = change();
      await writeManifest(this.runDir, m);
    });
    // A failed write must not wedge later ones; the caller of this write still sees its error.
    this.chain = next.catch(() => undefined);
    return next;
  }
}
