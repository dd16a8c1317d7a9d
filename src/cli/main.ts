#!/usr/bin/env node
import { Command } from 'commander';
import { registerCommands } from './commands/index.js';

const program = new Command();
program.name('quietcut').description('PostgreSQL proxy that backs up each partition in its quietest time').showHelpAfterError();
registerCommands(program);
program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`quietcut: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 2;
});
