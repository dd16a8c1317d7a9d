/**
 * Every example command of the README runs as written against a fresh demo (`quietcut start` with
 * no upstream), with `quietcut` on PATH as `npm link` puts it there.
 *
 * Examples are the lines of ```bash blocks. A block that cannot run here is marked on the line
 * before it with `<!-- readme-test: skip (why) -->` (a production host, the global npm prefix, data
 * outside the repository). The only rewriting: the demo's proxy address stands in for
 * 127.0.0.1:6432, since tests listen on a free port.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeState } from '../src/cli/locate.js';
import { repoRoot } from '../scripts/gen-docs.js';

export interface ReadmeExample {
  line: number;
  command: string;
}

/** The commands of the README's runnable ```bash blocks, comments and blank lines left out. */
export function readmeExamples(markdown: string): { run: ReadmeExample[]; skipped: Array<{ line: number; why: string }> } {
  const lines = markdown.split('\n');
  const run: ReadmeExample[] = [];
  const skipped: Array<{ line: number; why: string }> = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '```bash') continue;
    let prev = i - 1;
    while (prev >= 0 && lines[prev]!.trim() === '') prev--;
    const skip = /<!--\s*readme-test:\s*skip\s*\(([^)]*)\)\s*-->/.exec(lines[prev] ?? '');
    let j = i + 1;
    for (; j < lines.length && lines[j]!.trim() !== '```'; j++) {
      const text = withoutComment(lines[j]!).trim();
      if (text === '' || text.startsWith('#')) continue;
      if (skip) continue;
      run.push({ line: j + 1, command: text });
    }
    if (skip) skipped.push({ line: i + 1, why: skip[1]! });
    i = j;
  }
  return { run, skipped };
}

/** A shell line without its trailing `# comment` (a # inside quotes is not one). */
function withoutComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i);
  }
  return line;
}

let work: string;
let node: ChildProcess;
let state: NodeState;
let output = '';
const env: NodeJS.ProcessEnv = {};

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'qc-readme-'));
  const bin = join(work, 'bin');
  mkdirSync(bin);
  // What `npm link` gives: a quietcut command on PATH (from source here; the build is not needed).
  writeFileSync(join(bin, 'quietcut'), `#!/bin/sh\ncd ${JSON.stringify(repoRoot)} && exec ${JSON.stringify(process.execPath)} --import tsx src/cli/main.ts "$@"\n`);
  chmodSync(join(bin, 'quietcut'), 0o755);
  Object.assign(env, process.env, {
    PATH: `${bin}:${process.env.PATH ?? ''}`,
    QUIETCUT_STATE_FILE: join(work, 'node.json'),
    QUIETCUT_BACKUP__DIR: join(work, 'backups'),
    QUIETCUT_LOG__PRETTY: 'false',
    QUIETCUT_LOG__LEVEL: 'warn',
  });
  node = spawn('quietcut', ['start', '--no-demo-load', '--listen', '127.0.0.1:0', '--metrics', '127.0.0.1:0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  node.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  node.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 110_000;
  while (!existsSync(join(work, 'node.json'))) {
    if (Date.now() > deadline || node.exitCode !== null) throw new Error(`the demo did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  state = JSON.parse(readFileSync(join(work, 'node.json'), 'utf8')) as NodeState;
});
afterAll(async () => {
  if (node && node.exitCode === null) {
    const exited = new Promise((r) => node.once('exit', r));
    node.kill('SIGTERM');
    await exited;
  }
});

function sh(command: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    // The README's examples are shell lines: bash runs them as a reader's terminal would.
    const c = spawn('bash', ['-c', command], { env, cwd: work });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (out += d.toString()));
    c.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

describe('README examples', () => {
  test('the extraction finds the runnable examples and honours the skip marker', () => {
    const md = ['x', '<!-- readme-test: skip (a reason) -->', '```bash', 'never', '```', '```bash', 'quietcut runs   # a comment', '# only a comment', '', 'psql x -c "a # b"', '```', '```sql', 'select 1', '```'].join('\n');
    expect(readmeExamples(md)).toEqual({ run: [{ line: 7, command: 'quietcut runs' }, { line: 10, command: 'psql x -c "a # b"' }], skipped: [{ line: 3, why: 'a reason' }] });
  });

  test('every example command runs as written in a fresh demo', async () => {
    const { run } = readmeExamples(readFileSync(join(repoRoot, 'README.md'), 'utf8'));
    expect(run.length).toBeGreaterThan(10);
    const listen = new URL(state.connectionString).host;
    const failures: string[] = [];
    for (const ex of run) {
      const r = await sh(ex.command.replaceAll('127.0.0.1:6432', listen));
      if (process.env.README_TEST_VERBOSE) console.log(`${r.code} README.md:${ex.line} ${ex.command}`);
      if (r.code !== 0) failures.push(`README.md:${ex.line}: ${ex.command}\n  exit ${r.code}: ${r.out.trim().split('\n').slice(-5).join('\n  ')}`);
    }
    expect(failures, failures.join('\n')).toEqual([]);
    expect(node.exitCode).toBeNull();
  }, 600_000);
});
