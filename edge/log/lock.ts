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
 *
 * A pid alone is not an identity: in a container the agent is pid 1 on every start (with the
 * same boot id), and on any system the old pid may have gone to another process. So the lock
 * also records the process's start time (/proc/<pid>/stat, field 22), and a lock naming our
 * own pid counts as held only if this process took it (on this file layer); otherwise it is
 * a previous incarnation's, left by kill -9.
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

/** Start time of a process in clock ticks since boot (Linux), or undefined. */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may contain spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = Number(fields[19]);
    return Number.isFinite(start) ? start : undefined;
  } catch {
    return undefined;
  }
}

/** Locks this process holds, per file layer (a simulated disk is another machine). */
const held = new WeakMap<FileLayer, Set<string>>();
const heldBy = (fs: FileLayer): Set<string> => {
  let set = held.get(fs);
  if (set === undefined) held.set(fs, (set = new Set()));
  return set;
};

export interface LogLock {
  release(): Promise<void>;
}

/** The pid holding the lock if that process is alive, else undefined. */
export async function lockHolder(fs: FileLayer, dir: string, alive: IsProcessAlive = isProcessAlive, bootId: string | undefined = currentBootId()): Promise<number | undefined> {
  const raw = await readWholeFile(fs, join(dir, LOCK_FILE));
  if (raw === undefined) return undefined;
  let lock: { pid?: unknown; bootId?: unknown; startTime?: unknown };
  try {
    lock = JSON.parse(raw.toString('utf8')) as typeof lock;
  } catch {
    return undefined; // torn by a crash while it was written: nobody holds it
  }
  const { pid } = lock;
  if (typeof lock.bootId === 'string' && bootId !== undefined && lock.bootId !== bootId) return undefined; // taken before a reboot
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return undefined;
  if (pid === process.pid) return heldBy(fs).has(dir) ? pid : undefined; // ours, or a previous incarnation's
  if (!alive(pid)) return undefined;
  if (typeof lock.startTime === 'number') {
    const now = processStartTime(pid);
    if (now !== undefined && now !== lock.startTime) return undefined; // the pid was reused
  }
  return pid;
}

export async function acquireLock(fs: FileLayer, dir: string, alive: IsProcessAlive = isProcessAlive, bootId: string | undefined = currentBootId()): Promise<LogLock> {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const f = await fs.open(path, 'create-new');
      try {
        await f.append(Buffer.from(JSON.stringify({ pid: process.pid, bootId, startTime: processStartTime(process.pid), acquiredAt: new Date().toISOString() })));
        await f.datasync();
      } finally {
        await f.close();
      }
      await fs.fsyncDir(dir);
      heldBy(fs).add(dir);
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          heldBy(fs).delete(dir);
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
