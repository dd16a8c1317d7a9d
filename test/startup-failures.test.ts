import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, type LocalCluster } from '../src/localdb/cluster.js';
import { startTestCluster } from './helpers/pg.js';
import { processesMentioning, waitFor } from './helpers/invariants.js';

/**
 * Issue 15 item 5: a start-up failure stops everything started so far and exits non-zero with a
 * message naming the option to change. Each start gets its own TMPDIR, so anything it leaves running
 * (a private PostgreSQL above all) is found by its path.
 */
let cluster: LocalCluster;
let busy: Server;
let busyPort: number;

beforeAll(async () => {
  cluster = await startTestCluster();
  busy = createServer();
  busyPort = await new Promise<number>((resolve) => busy.listen(0, '127.0.0.1', () => resolve((busy.address() as { port: number }).port)));
});
afterAll(async () => {
  busy?.close();
  await cluster?.stop();
});

interface Started {
  pid: number;
  tmp: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function start(args: string[]): Started {
  const tmp = mkdtempSync(join(tmpdir(), 'qc-start-'));
  chmodSync(tmp, 0o755); // the private PostgreSQL runs as postgres and must reach its folder inside
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', ...args], {
    env: { ...process.env, TMPDIR: tmp, QUIETCUT_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
    cwd: process.cwd(),
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return { pid: child.pid!, tmp, exited: new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr }))) };
}

async function expectFails(args: string[], code: number, message: RegExp): Promise<void> {
  const s = start(args);
  const r = await s.exited;
  expect(r.signal).toBeNull();
  expect(r.code).toBe(code);
  expect(r.stderr).toMatch(message);
  expect(processesMentioning(s.tmp)).toEqual([]);
}

const upstream = (): string[] => ['--upstream', cluster.url('demo'), '--metrics', '127.0.0.1:0'];

describe('quietcut start fails fast and cleanly', () => {
  test('a listen port in use exits 1 naming listen', async () => {
    await expectFails([...upstream(), '--listen', `127.0.0.1:${busyPort}`], 1, new RegExp(`127\\.0\\.0\\.1:${busyPort} is already in use .*change 'listen' \\(--listen\\)`));
  });

  test('a metrics port in use exits 1 naming metrics.listen', async () => {
    await expectFails(['--upstream', cluster.url('demo'), '--listen', '127.0.0.1:0', '--metrics', `127.0.0.1:${busyPort}`], 1, /is already in use .*change 'metrics\.listen' \(--metrics\)/);
  });

  test('an address that is not on this host exits 1 naming listen', async () => {
    await expectFails([...upstream(), '--listen', '192.0.2.1:0'], 1, /192\.0\.2\.1 is not an address of this host: change 'listen'/);
  });

  test('port 70000 is refused by the config schema, naming the key', async () => {
    await expectFails([...upstream(), '--listen', '127.0.0.1:70000'], 2, /listen: port must be 0-65535/);
  });

  test('a bad cron expression is refused by the config schema, naming the key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qc-cron-'));
    const file = join(dir, 'q.yaml');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, 'backup:\n  schedule: "every night at one"\n');
    await expectFails(['-c', file, ...upstream()], 2, /backup\.schedule: not a valid cron expression/);
  });

  test('a second npm start while one runs exits 1 and stops its private PostgreSQL; the first still stops on SIGTERM', async () => {
    const port = await freePort();
    const args = ['--no-demo-load', '--listen', `127.0.0.1:${port}`, '--metrics', '127.0.0.1:0'];
    const first = start(args);
    let firstExit: string | null = null;
    void first.exited.then((r) => (firstExit = `exited ${r.code}: ${r.stderr}`));
    await waitFor(
      'the first quietcut listening',
      async () => {
        if (firstExit) throw new Error(firstExit);
        const c = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/demo` });
        c.on('error', () => undefined);
        await c.connect();
        await c.end();
        return true;
      },
      120_000,
    );
    expect(processesMentioning(first.tmp).length).toBeGreaterThan(0); // its private PostgreSQL
    await expectFails(args, 1, new RegExp(`127\\.0\\.0\\.1:${port} is already in use \\(is another quietcut running\\?\\): change 'listen'`));
    process.kill(first.pid, 'SIGTERM');
    const r = await first.exited;
    expect(r.code).toBe(0);
    await waitFor('the first private PostgreSQL stopped', () => processesMentioning(first.tmp).length === 0, 60_000);
  });
});
