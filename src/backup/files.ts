import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Artifacts and manifests hold table data: owner-only. */
export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function fsyncPath(path: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, 'r');
    await fh.sync();
  } finally {
    await fh?.close();
  }
}

/** A directory's fsync makes a rename inside it durable; some filesystems refuse it, which is fine. */
export async function fsyncDir(path: string): Promise<void> {
  try {
    await fsyncPath(path);
  } catch {
    // Best effort: the data file itself was already synced.
  }
}

/** Create an empty file with mode 0600 that must not exist yet (a leftover would be a bug). */
export async function createPrivateFile(path: string): Promise<void> {
  await rm(path, { force: true });
  const fh = await open(path, 'wx', FILE_MODE);
  await fh.close();
}

/** Write `text` so that readers see the old file or the new one, never a half-written one. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Date.now().toString(36)}`;
  const fh = await open(tmp, 'wx', FILE_MODE);
  try {
    await fh.writeFile(text, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dirname(path));
}
