import type { Command } from 'commander';

/** One line per command; each command lives in its own file in this folder. */
export function registerCommands(program: Command): void {
  void program;
}
