import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import type { Config, ConfigInput } from '../../src/config/schema.js';

/**
 * The configuration of a node under test: the proxy on port 0, no metrics listener, no write
 * recording, backups (fast compression) in `backupDir` (a fresh temporary folder when not given);
 * `extra` on top (its `backup` merged).
 */
export function testNodeConfig(upstreamUrl: string, backupDir = mkdtempSync(join(tmpdir(), 'qc-node-')), extra: ConfigInput = {}): Config {
  return loadConfig({
    env: {},
    overrides: {
      upstream: { url: upstreamUrl },
      listen: '127.0.0.1:0',
      metrics: { listen: null },
      ...extra,
      backup: { dir: backupDir, compression: 1, ...(extra.backup ?? {}) },
      stats: { enabled: false },
    },
  });
}
