/**
 * The real executable, `quietcut start …`, spawned by a test (workers tests): its output, its exit,
 * its node state file once it serves, and the configuration files it is started with.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeState } from '../../src/cli/locate.js';
import type { ConfigInput } from '../../src/config/schema.js';
import type { NodeStatusJson } from '../../src/cli/status-table.js';
import { waitFor } from './invariants.js';

export interface Started {
  child: ChildProcess;
  exited: Promise<number | null>;
  /** Everything it printed so far (stdout and stderr). */
  out: () => string;
  /** Its node state file, once it serves. */
  served: () => Promise<NodeState>;
}

const rand = (): string => Math.random().toString(36).slice(2);

/**
 * A config file in `work`: upstream `url`, ports chosen by the kernel, fast leases, after-dump
 * windows; each section of `extra` merged over its defaults. Written as JSON, which is YAML.
 */
export function cliConfigFile(work: string, url: string, extra: ConfigInput = {}): string {
  const file = join(work, `quietcut-${rand()}.yaml`);
  const config: ConfigInput = {
    ...extra,
    upstream: { url, ...extra.upstream },
    listen: extra.listen ?? '127.0.0.1:0',
    metrics: { listen: '127.0.0.1:0', ...extra.metrics },
    log: { level: 'info', pretty: false, ...extra.log },
    backup: { dir: join(work, 'backups'), compression: 1, ...extra.backup },
    stats: { enabled: false, ...extra.stats },
    nodes: { leaseMs: 3000, heartbeatMs: 200, pollMs: 100, ...extra.nodes },
    windows: { maxHoldMs: 60_000, release: 'after-dump', ...extra.windows },
  };
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** Every process a test file started, stopped (SIGTERM, then awaited) by `stopAll` in its afterAll. */
export class CliNodes {
  private readonly started: Started[] = [];
  constructor(private readonly work: string) {}

  /** `quietcut start <args>` with its own state file (and `env` added to this process's). */
  start(args: readonly string[], env: NodeJS.ProcessEnv = {}): Started {
    const stateFile = join(this.work, `node-${rand()}.json`);
    let out = '';
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', ...args], { env: { ...process.env, ...env, QUIETCUT_STATE_FILE: stateFile }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const served = (): Promise<NodeState> =>
      waitFor(
        'the node state file',
        () => {
          if (child.exitCode !== null) throw new Error(`quietcut exited ${child.exitCode}:\n${out}`);
          return existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, 'utf8')) as NodeState) : null;
        },
        90_000,
      );
    const s = { child, exited, out: () => out, served };
    this.started.push(s);
    return s;
  }

  async stopAll(): Promise<void> {
    for (const s of this.started) {
      if (s.child.exitCode === null && s.child.signalCode === null) {
        s.child.kill('SIGTERM');
        await s.exited;
      }
    }
  }
}

/** The node's /status (with `workers` when it runs several). */
export async function cliStatus(metrics: string): Promise<NodeStatusJson> {
  return (await (await fetch(`http://${metrics}/status`)).json()) as NodeStatusJson;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A failure explained by what the process logged (the last lines of its output). */
export async function withOutput<T>(s: Started, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    const tail = s.out().split('\n').slice(-40).join('\n');
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- quietcut output (last lines):\n${tail}`, { cause: err });
  }
}
