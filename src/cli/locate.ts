/**
 * How commands find the running node, the way psql finds a server: flags first, then a
 * configuration file (--config, else QUIETCUT_CONFIG), the environment (QUIETCUT_UPSTREAM__URL…),
 * and last the state file a running `quietcut start` leaves (QUIETCUT_STATE_FILE, default
 * ~/.quietcut/node.json), which is how commands in another terminal find the demo.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';

/** What a running node says about itself in the state file (no secrets: no password is ever in a URL here). */
export interface NodeState {
  pid: number;
  version: string;
  startedAt: string;
  /** Where applications connect. */
  connectionString: string;
  /** The database the node fronts, for commands that talk to nodes through it. */
  upstreamUrl: string;
  /** host:port of /metrics and /status, or null. */
  metrics: string | null;
  /** Absolute backup.dir. */
  backupDir: string;
  configFile: string | null;
}

export function stateFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return env.QUIETCUT_STATE_FILE ?? join(homedir(), '.quietcut', 'node.json');
}

export function writeNodeState(state: NodeState, env: NodeJS.ProcessEnv = process.env): string {
  const file = stateFilePath(env);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
  return file;
}

/** Remove the state file if it is ours (another node may have replaced it since). */
export function removeNodeState(env: NodeJS.ProcessEnv = process.env): void {
  const s = readNodeState(env, { alive: false });
  if (s?.pid === process.pid) rmSync(stateFilePath(env), { force: true });
}

/** The state of a node that is still running; null when there is none (or it died without cleaning up). */
export function readNodeState(env: NodeJS.ProcessEnv = process.env, o: { alive?: boolean } = {}): NodeState | null {
  let s: NodeState;
  try {
    s = JSON.parse(readFileSync(stateFilePath(env), 'utf8')) as NodeState;
  } catch {
    return null;
  }
  if (o.alive === false) return s;
  try {
    process.kill(s.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return null;
  }
  return s;
}

/** --config, else QUIETCUT_CONFIG. */
export function configFileOf(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return flag ?? env.QUIETCUT_CONFIG ?? undefined;
}

export interface LocatedNode {
  config: Config;
  /** Where the upstream came from, for messages. */
  source: string;
}

/**
 * The configuration of the node a command talks to, with upstream.url set. Throws a message naming
 * every way to point the command at a node when none is found.
 */
export function locateNode(flags: { config?: string | undefined; upstream?: string | undefined }, env: NodeJS.ProcessEnv = process.env): LocatedNode {
  const file = configFileOf(flags.config, env);
  const overrides: Record<string, unknown> = flags.upstream ? { upstream: { url: flags.upstream } } : {};
  let config = loadConfig({ file, env, overrides });
  if (config.upstream.url) return { config, source: flags.upstream ? '--upstream' : file ? file : 'QUIETCUT_UPSTREAM__URL' };
  const state = readNodeState(env);
  if (state) {
    config = loadConfig({ file, env, overrides: { upstream: { url: state.upstreamUrl }, backup: { dir: state.backupDir }, ...(state.metrics ? { metrics: { listen: state.metrics } } : {}) } });
    return { config, source: `the running node (pid ${state.pid}, ${stateFilePath(env)})` };
  }
  const named = file ? `no upstream configured in ${file} (upstream.url) and no running node found: ` : 'no quietcut node found: ';
  throw new Error(
    named + 'pass --upstream postgres://user@host:port/db (the database the node fronts), --config FILE (or set QUIETCUT_CONFIG), set QUIETCUT_UPSTREAM__URL, or start one (npm start)',
  );
}

/** The metrics address of the node: the flag, else the running node's, else the configuration's. */
export function locateMetrics(flag: string | undefined, configFlag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return flag;
  const state = readNodeState(env);
  if (state?.metrics) return state.metrics;
  const config = loadConfig({ file: configFileOf(configFlag, env), env });
  return config.metrics.listen ?? '127.0.0.1:9187';
}

/** backup.dir as an absolute path. */
export function backupDirOf(config: Config): string {
  return resolve(config.backup.dir);
}
