/**
 * The living demo end to end, as a user runs it: `quietcut start` with no database, a short
 * simulated day, `quietcut status` against it from another process, then Ctrl-C (SIGINT): the
 * process exits 0 and its private PostgreSQL is gone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createConnection } from 'node:net';
import { afterAll, describe, expect, test } from 'vitest';
import { freePort } from '../src/localdb/cluster.js';
import type { NodeStatusJson } from '../src/cli/status-table.js';

const tmp = mkdtempSync(join(tmpdir(), 'qc-demo-'));
const backups = join(tmp, 'backups');
let child: ChildProcess | null = null;

afterAll(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

function quietcut(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

async function until<T>(what: string, f: () => Promise<T | null>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f().catch(() => null);
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

const portOpen = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });

describe('quietcut start with no database: the living demo', () => {
  test('writes land in several partitions, a window runs, a backup lands, status shows it, Ctrl-C stops it all', async () => {
    const metricsPort = await freePort();
    const metrics = `127.0.0.1:${metricsPort}`;
    child = quietcut(['start', '--listen', '127.0.0.1:0', '--metrics', metrics], {
      QUIETCUT_DEMO__DAY_MS: '24000',
      QUIETCUT_BACKUP__DIR: backups,
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));

    // Not a terminal: JSON log lines, from which the private cluster's folder and port are known.
    const logs = (): Array<Record<string, unknown>> =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    const status = await until(
      'writes in three partitions and a good backup',
      async () => {
        const s = (await (await fetch(`http://${metrics}/status`)).json()) as NodeStatusJson;
        const written = (s.partitions ?? []).filter((p) => p.writesTotal > 0);
        const backedUp = (s.partitions ?? []).filter((p) => p.lastBackup?.status === 'good');
        return written.length >= 3 && backedUp.length >= 1 ? s : null;
      },
      60_000,
    );
    const dataDir = logs().find((l) => l.msg === 'initdb of a private PostgreSQL cluster')?.dataDir as string;
    const pgPort = logs().find((l) => l.msg === 'private PostgreSQL started')?.port as number;
    expect(dataDir).toBeTruthy();
    expect(await portOpen(pgPort)).toBe(true);

    const good = status.partitions!.find((p) => p.lastBackup?.status === 'good')!;
    expect(good.windows).toBeGreaterThan(0);
    const runDir = good.lastBackup!.runDir;
    expect(readdirSync(runDir)).toContain(`${good.partition}.dump`);
    expect(dirname(runDir)).toBe(backups);

    // The same table from another process, through the metrics endpoint only.
    const st = quietcut(['status', '--metrics', metrics]);
    let table = '';
    st.stdout!.on('data', (d: Buffer) => (table += d.toString()));
    expect(await new Promise((r) => st.once('exit', r))).toBe(0);
    const lines = table.split('\n');
    expect(lines[1]).toMatch(/^partition\s+writes\/s\s+writes\s+window/);
    for (const p of ['orders_eu', 'orders_us', 'orders_apac']) {
      const row = lines.find((l) => l.startsWith(`${p} `));
      expect(row, `${p} in\n${table}`).toMatch(new RegExp(`^${p}\\s+\\d+\\.\\d\\s+[1-9]\\d*\\s`));
    }
    expect(table).toMatch(/good \d+s ago/);

    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(existsSync(dirname(dataDir))).toBe(false);
    expect(await portOpen(pgPort)).toBe(false);
  });
});
