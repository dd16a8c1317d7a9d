import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';

/** A PostgreSQL client tool invocation: argument array (never a shell) plus its environment. */
export interface ToolInvocation {
  bin: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

export interface ToolResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  aborted: boolean;
}

/** Enough of stderr to explain a failure; the tool cannot make us buffer without bound. */
const MAX_CAPTURE_BYTES = 64 * 1024;
/** After SIGTERM a tool gets this long to close its connection before SIGKILL. */
const KILL_GRACE_MS = 3000;

function appendCapped(buf: string, chunk: Buffer): string {
  const next = buf + chunk.toString('utf8');
  return next.length > MAX_CAPTURE_BYTES ? next.slice(next.length - MAX_CAPTURE_BYTES) : next;
}

/** Run a tool to completion; an abort kills it (TERM, then KILL) and resolves with aborted=true. */
export function runTool(inv: ToolInvocation, signal?: AbortSignal): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      resolve({ code: null, signal: null, stdout: '', stderr: '', aborted: true });
      return;
    }
    // Own process group: a Ctrl-C at quietcut's terminal must not kill a dump in the middle of a
    // window (quietcut decides: it aborts dumps through the signal). If quietcut itself dies, the
    // exit hook below still takes its children with it.
    const child = spawn(inv.bin, inv.args, { env: inv.env, stdio: ['ignore', 'pipe', 'pipe'], shell: false, detached: true });
    running.add(child);
    if (child.pid !== undefined) watch(child.pid);
    child.once('close', () => {
      running.delete(child);
      if (child.pid !== undefined) unwatch(child.pid);
    });
    let stdout = '';
    let stderr = '';
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (d: Buffer) => (stdout = appendCapped(stdout, d)));
    child.stderr.on('data', (d: Buffer) => (stderr = appendCapped(stderr, d)));
    const onAbort = (): void => {
      aborted = true;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      reject(err);
    });
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      resolve({ code, signal: sig, stdout, stderr, aborted });
    });
  });
}

/** The lines of a tool's stderr that say what went wrong, on one line for a manifest or table. */
export function failureReason(r: ToolResult, tool: string): string {
  const text = r.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .join(' | ');
  if (text) return text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
  if (r.signal) return `${tool} killed by ${r.signal}`;
  return `${tool} exited with code ${String(r.code)}`;
}

/** Children still running; killed if the process exits without aborting them. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

/**
 * The exit hook above cannot run when quietcut is killed with SIGKILL, and a tool in its own
 * process group survives its parent. So a small watchdog process (also in a group of its own, so a
 * terminal's signal does not reach it) holds a pipe from quietcut: when the pipe closes, whatever
 * way quietcut ended, it kills every tool's process group still listed and exits.
 */
const WATCHDOG_JS = `
const groups = new Set();
let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d;
  for (let i = buf.indexOf('\\n'); i >= 0; i = buf.indexOf('\\n')) {
    const [op, pid] = buf.slice(0, i).split(' ');
    buf = buf.slice(i + 1);
    if (op === '+') groups.add(Number(pid)); else groups.delete(Number(pid));
  }
});
const end = () => { for (const g of groups) { try { process.kill(-g, 'SIGKILL'); } catch {} } process.exit(0); };
process.stdin.on('end', end);
process.stdin.on('error', end);
`;

let watchdog: ChildProcess | null = null;

function tellWatchdog(line: string): void {
  if (!watchdog || watchdog.exitCode !== null || watchdog.signalCode !== null) {
    const w = spawn(process.execPath, ['-e', WATCHDOG_JS], { detached: true, stdio: ['pipe', 'ignore', 'ignore'], env: { PATH: process.env.PATH ?? '' } });
    w.on('error', () => undefined);
    w.stdin?.on('error', () => undefined);
    // Neither the process nor its pipe keeps quietcut running.
    w.unref();
    (w.stdin as Socket | null)?.unref();
    w.once('exit', () => {
      if (watchdog === w) watchdog = null;
    });
    watchdog = w;
    for (const c of running) if (c.pid !== undefined && `+ ${c.pid}\n` !== line) w.stdin?.write(`+ ${c.pid}\n`);
  }
  watchdog.stdin?.write(line);
}

function watch(pid: number): void {
  tellWatchdog(`+ ${pid}\n`);
}

function unwatch(pid: number): void {
  if (watchdog) tellWatchdog(`- ${pid}\n`);
}

/** The watchdog's pid (tests check it cleans up after a SIGKILLed quietcut). */
export function watchdogPid(): number | null {
  return watchdog?.pid ?? null;
}
