import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync, existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { findPgBinDir } from './binaries.js';
import { demoSchemaSql } from './demo-schema.js';
import { silentLogger, type Logger } from '../util/log.js';

export interface LocalClusterOptions {
  /** Data folder parent; a fresh temporary folder when absent (removed on stop). */
  dir?: string;
  port?: number;
  /** pg_hba lines placed before the default `trust` lines (e.g. md5/scram roles in tests). */
  hbaLines?: string[];
  /** Extra postgresql.conf settings. */
  settings?: Record<string, string | number>;
  /** Create the `demo` database with the demo partitioned tables. */
  demo?: boolean;
  log?: Logger;
}

interface RunAs {
  uid: number;
  gid: number;
}

/** Who runs the server: PostgreSQL refuses to run as root, so root hands it to `postgres`. */
function serverUser(): RunAs | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error("running as root needs a 'postgres' OS user to own the local cluster (apt-get install -y postgresql creates it)");
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function run(cmd: string, args: string[], opts: SpawnOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${out.trim()}`))));
  });
}

/**
 * A private throwaway PostgreSQL cluster on 127.0.0.1: used by `npm start` when no upstream is
 * configured, and by the integration tests.
 */
export class LocalCluster {
  readonly host = '127.0.0.1';
  private stopped = false;
  private readonly onExit = (): void => this.stopSync();

  private constructor(
    readonly baseDir: string,
    readonly port: number,
    private readonly ownsDir: boolean,
    private readonly runAs: RunAs | undefined,
    private readonly log: Logger,
  ) {
    process.once('exit', this.onExit);
  }

  get dataDir(): string {
    return join(this.baseDir, 'data');
  }
  get socketDir(): string {
    return this.baseDir;
  }

  url(database = 'postgres', user = 'postgres'): string {
    return `postgres://${encodeURIComponent(user)}@${this.host}:${this.port}/${encodeURIComponent(database)}`;
  }

  static async start(opts: LocalClusterOptions = {}): Promise<LocalCluster> {
    const log = opts.log ?? silentLogger;
    const bin = findPgBinDir();
    const runAs = serverUser();
    const ownsDir = !opts.dir;
    const baseDir = opts.dir ?? mkdtempSync(join(tmpdir(), 'quietcut-pg-'));
    if (!existsSync(baseDir)) mkdirSync(baseDir, { recursive: true });
    chmodSync(baseDir, 0o700);
    if (runAs) chownSync(baseDir, runAs.uid, runAs.gid);
    const spawnOpts: SpawnOptions = { cwd: baseDir, env: { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' } };
    if (runAs) Object.assign(spawnOpts, runAs);
    const dataDir = join(baseDir, 'data');

    if (!existsSync(join(dataDir, 'PG_VERSION'))) {
      log.info({ dataDir }, 'initdb of a private PostgreSQL cluster');
      await run(join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8', '--no-sync'], spawnOpts);
      const hba = [
        '# written by quietcut localdb',
        ...(opts.hbaLines ?? []),
        'local all all trust',
        'host all all 127.0.0.1/32 trust',
        'host all all ::1/128 trust',
      ];
      writeFileSync(join(dataDir, 'pg_hba.conf'), hba.join('\n') + '\n');
      const settings: Record<string, string | number> = {
        listen_addresses: "'127.0.0.1'",
        unix_socket_directories: `'${baseDir}'`,
        max_connections: 300,
        max_prepared_transactions: 20,
        fsync: 'off',
        full_page_writes: 'off',
        shared_buffers: "'128MB'",
        log_min_messages: 'warning',
        ...opts.settings,
      };
      appendFileSync(join(dataDir, 'postgresql.conf'), Object.entries(settings).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n');
      if (runAs) for (const f of ['pg_hba.conf', 'postgresql.conf']) chownSync(join(dataDir, f), runAs.uid, runAs.gid);
    }

    let lastErr: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = opts.port ?? (await freePort());
      try {
        await run(join(bin, 'pg_ctl'), ['-D', dataDir, '-l', join(baseDir, 'postgres.log'), '-w', '-t', '60', '-o', `-p ${port}`, 'start'], spawnOpts);
        const cluster = new LocalCluster(baseDir, port, ownsDir, runAs, log);
        if (opts.demo) await cluster.createDemo();
        log.info({ port }, 'private PostgreSQL started');
        return cluster;
      } catch (err) {
        lastErr = err;
        if (opts.port) break; // a fixed port that fails will not get better
      }
    }
    throw lastErr;
  }

  async query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = [], database = 'postgres'): Promise<pg.QueryResult<T>> {
    const c = new pg.Client({ connectionString: this.url(database) });
    await c.connect();
    try {
      return await c.query<T>(sql, params);
    } finally {
      await c.end();
    }
  }

  async createDatabase(name: string): Promise<void> {
    const exists = await this.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await this.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
  }

  async createDemo(database = 'demo'): Promise<void> {
    await this.createDatabase(database);
    await this.query(demoSchemaSql(), [], database);
  }

  // --- fault injection for tests of servers that go away (cross-server cuts): the data folder stays.

  /** Stop the server but keep its data; `resume()` starts it again on the same port. */
  async halt(mode: 'fast' | 'immediate' = 'immediate'): Promise<void> {
    await this.pgCtl(['-m', mode, '-w', 'stop']);
  }

  async resume(): Promise<void> {
    await this.pgCtl(['-l', join(this.baseDir, 'postgres.log'), '-w', '-t', '60', '-o', `-p ${this.port}`, 'start']);
  }

  /** Restart in place (same port, same data), as an operator or a crash-restart would. */
  async restart(mode: 'fast' | 'immediate' = 'immediate'): Promise<void> {
    await this.pgCtl(['-l', join(this.baseDir, 'postgres.log'), '-m', mode, '-w', '-t', '60', '-o', `-p ${this.port}`, 'restart']);
  }

  private async pgCtl(args: string[]): Promise<void> {
    const spawnOpts: SpawnOptions = { cwd: this.baseDir, env: { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' } };
    if (this.runAs) Object.assign(spawnOpts, this.runAs);
    await run(join(findPgBinDir(), 'pg_ctl'), ['-D', this.dataDir, ...args], spawnOpts);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    process.removeListener('exit', this.onExit);
    const spawnOpts: SpawnOptions = {};
    if (this.runAs) Object.assign(spawnOpts, this.runAs);
    try {
      await run(join(findPgBinDir(), 'pg_ctl'), ['-D', this.dataDir, '-m', 'fast', '-w', 'stop'], spawnOpts);
    } catch (err) {
      this.log.warn({ err }, 'pg_ctl stop failed');
    }
    if (this.ownsDir) rmSync(this.baseDir, { recursive: true, force: true });
  }

  /** Last resort on process exit: no async work is possible there. */
  stopSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    const opts = this.runAs ? { ...this.runAs, stdio: 'ignore' as const } : { stdio: 'ignore' as const };
    spawnSync(join(findPgBinDir(), 'pg_ctl'), ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop'], opts);
    if (this.ownsDir) rmSync(this.baseDir, { recursive: true, force: true });
  }
}
