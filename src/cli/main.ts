#!/usr/bin/env node
import { Command } from 'commander';
import { BUILD } from '../metrics/registry.js';
import { registerCommands } from './commands/index.js';

// Output piped into `head` closes early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const program = new Command();
program.name('quietcut').description('PostgreSQL proxy that backs up each partition in its quietest time').version(BUILD.version, '-V, --version').showHelpAfterError();
registerCommands(program);
program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`quietcut: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 2;
});
