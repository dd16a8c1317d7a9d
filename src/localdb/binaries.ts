import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export class MissingPostgresError extends Error {
  constructor(tool: string, searched: string[]) {
    super(
      `PostgreSQL binary '${tool}' not found (looked in: ${searched.join(', ') || 'nothing'}). ` +
        `Install the server: 'apt-get install -y postgresql' (Debian/Ubuntu), or set PGBIN to the folder holding initdb and postgres.`,
    );
    this.name = 'MissingPostgresError';
  }
}

function candidateDirs(): string[] {
  const dirs: string[] = [];
  if (process.env.PGBIN) dirs.push(process.env.PGBIN);
  for (const d of (process.env.PATH ?? '').split(delimiter)) if (d) dirs.push(d);
  try {
    const out = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (out) dirs.push(out);
  } catch {
    // pg_config is optional.
  }
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) dirs.push(join(root, v, 'bin'));
  }
  return dirs;
}

let cachedBinDir: string | undefined;

/** The folder holding initdb, pg_ctl, postgres, pg_dump and pg_restore of one installation. */
export function findPgBinDir(): string {
  if (cachedBinDir) return cachedBinDir;
  const dirs = candidateDirs();
  // Every tool must come from one installation: initdb from 16 with pg_ctl from 15 fails oddly.
  const dir = dirs.find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'pg_ctl')) && existsSync(join(d, 'postgres')));
  if (!dir) throw new MissingPostgresError('initdb', dirs);
  cachedBinDir = dir;
  return dir;
}

/** Path of one PostgreSQL client or server tool (pg_dump, pg_restore, psql, pgbench, ...). */
export function pgTool(tool: string): string {
  const dir = findPgBinDir();
  const p = join(dir, tool);
  if (existsSync(p)) return p;
  const other = candidateDirs().map((d) => join(d, tool)).find((c) => existsSync(c));
  if (other) return other;
  throw new MissingPostgresError(tool, candidateDirs());
}
