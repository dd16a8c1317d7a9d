import { Command } from 'commander';
import { registerCommands } from '../../src/cli/commands/index.js';

/**
 * Run quietcut CLI commands in this process (the same commands main.ts registers, the same error
 * line and exit code), capturing what they print: a spawned `node --import tsx` costs seconds of
 * start-up per call on a loaded machine. Tests of the real executable spawn it (readme.test.ts).
 */
export async function runCli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const log = console.log;
  const error = console.error;
  const write = process.stdout.write.bind(process.stdout);
  const before = process.exitCode;
  console.log = (...a: unknown[]) => void (stdout += `${a.map(String).join(' ')}\n`);
  console.error = (...a: unknown[]) => void (stderr += `${a.map(String).join(' ')}\n`);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  process.exitCode = 0;
  let code = 0;
  try {
    const program = new Command();
    program.exitOverride().configureOutput({ writeOut: (s) => (stdout += s), writeErr: (s) => (stderr += s) });
    registerCommands(program);
    await program.parseAsync(['node', 'quietcut', ...args]);
    code = Number(process.exitCode ?? 0);
  } catch (err) {
    const e = err as { code?: string; exitCode?: number; message?: string };
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) code = e.exitCode ?? 1;
    else {
      stderr += `quietcut: ${err instanceof Error ? err.message : String(err)}\n`;
      code = 2;
    }
  } finally {
    console.log = log;
    console.error = error;
    process.stdout.write = write;
    process.exitCode = before;
  }
  return { code, stdout, stderr };
}
