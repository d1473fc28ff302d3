import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RoadlogError } from '../../shared/errors/index.js';
import { errnoCode, readWholeFile, type FileLayer } from './file-layer.js';

/**
 * `<dir>/.lock` keeps a second process from opening the same log. It holds the owner's pid and
 * the kernel's boot id; a lock whose pid is dead (the agent was killed), or that was taken
 * before the last reboot (a power cut: the pid may now belong to something else), is taken
 * over; a live one is refused with ROADLOG_ERR_LOG_LOCKED naming the pid. Created with
 * O_EXCL, so two openers cannot both win.
 */
export const LOCK_FILE = '.lock';

export type IsProcessAlive = (pid: number) => boolean;

export const isProcessAlive: IsProcessAlive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
};

/** This boot's id (Linux), or undefined where there is none. */
export function currentBootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

export interface LogLock {
  release(): Promise<void>;
}

/** The pid holding the lock if that process is alive, else undefined. */
export async function lockHolder(fs: FileLayer, dir: string, alive: IsProcessAlive = isProcessAlive, bootId: string | undefined = currentBootId()): Promise<number | undefined> {
  const raw = await readWholeFile(fs, join(dir, LOCK_FILE));
  if (raw === undefined) return undefined;
  let lock: { pid?: unknown; bootId?: unknown };
  try {
    lock = JSON.parse(raw.toString('utf8')) as typeof lock;
  } catch {
    return undefined; // torn by a crash while it was written: nobody holds it
  }
  const { pid } = lock;
  if (typeof lock.bootId === 'string' && bootId !== undefined && lock.bootId !== bootId) return undefined; // taken before a reboot
  return typeof pid === 'number' && Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
}

export async function acquireLock(fs: FileLayer, dir: string, alive: IsProcessAlive = isProcessAlive, bootId: string | undefined = currentBootId()): Promise<LogLock> {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const f = await fs.open(path, 'create-new');
      try {
        await f.append(Buffer.from(JSON.stringify({ pid: process.pid, bootId, acquiredAt: new Date().toISOString() })));
        await f.datasync();
      } finally {
        await f.close();
      }
      await fs.fsyncDir(dir);
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          await fs.unlink(path);
          await fs.fsyncDir(dir);
        },
      };
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
    const holder = await lockHolder(fs, dir, alive, bootId);
    if (holder !== undefined) {
      throw new RoadlogError('ROADLOG_ERR_LOG_LOCKED', `${dir} is in use by process ${holder} (an edge agent is running on it; stop it first)`, { details: { dir, pid: holder } });
    }
    try {
      await fs.unlink(path); // stale: its process is gone
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
  }
  throw new RoadlogError('ROADLOG_ERR_LOG_LOCKED', `${dir}: could not take the lock (another process keeps taking it)`, { details: { dir } });
}
