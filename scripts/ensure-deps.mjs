// `npm start` / `npm test` on a fresh clone: install the locked dependencies first if they are missing.
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

if (!existsSync(new URL('../node_modules/.package-lock.json', import.meta.url))) {
  process.stderr.write('quietcut: installing dependencies (npm ci)...\n');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { stdio: 'inherit', cwd: new URL('..', import.meta.url) });
}
