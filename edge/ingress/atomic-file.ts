import { open, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Replace a small file so that a crash leaves either the old or the new one: write a temp file,
 * fsync it, rename it over the target, fsync the directory. A file that exists keeps its mode
 * and owner (the credentials file belongs to the service user, and `sudo roadlog edge passwd`
 * must not hand it to root); a new one is created 0600.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const previous = await stat(path).catch(() => undefined);
  const tmp = `${path}.tmp-${process.pid}`;
  const handle = await open(tmp, 'wx', previous?.mode ?? 0o600);
  try {
    await handle.writeFile(text);
    if (previous !== undefined) {
      await handle.chmod(previous.mode & 0o7777);
      if (process.getuid?.() === 0) await handle.chown(previous.uid, previous.gid);
    }
    await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  await rename(tmp, path);
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
