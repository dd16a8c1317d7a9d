/**
 * Every test file gets its own node state file, so a demo left running on this machine (or a node
 * another file started) is never the node a command under test finds.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

process.env.QUIETCUT_STATE_FILE = join(mkdtempSync(join(tmpdir(), 'qc-state-')), 'node.json');
