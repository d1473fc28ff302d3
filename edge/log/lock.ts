import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeFileAtomic } from '../../shared/atomic-file/index.js';
import { RoadlogError } from '../../shared/errors/index.js';
import { errnoCode, readWholeFile, type FileLayer } from './file-layer.js';

/**
 * A lock keeps a second process from opening the same log. Each taker publishes its own lock
 * file, `<dir>/.lock.<pid>.<random>`, holding its pid, the kernel's boot id and the process
 * start time, and only then looks at the others:
 *
 *   1. write `.lock.<pid>.<random>.tmp`, fdatasync, rename it to `.lock.<pid>.<random>`, fsync
 *      the directory: a lock file is never seen half-written (a reader never mistakes a taker
 *      that has not written its pid yet for a torn file);
 *   2. list the directory: a lock file of a live process other than ours means someone holds
 *      the log, or is taking it at the same moment; delete ours and back off (a few attempts
 *      with random delays, then ROADLOG_ERR_LOG_LOCKED naming the pid). Dead owners' files are
 *      deleted.
 *
 * Of two takers at least one sees the other's file (each writes before it reads), so two can
 * never both hold the log; at worst both back off and try again. No file is ever taken over
 * by deleting and recreating it, so two takers of a stale lock cannot both win.
 *
 * An owner is dead when its pid no longer runs, when the lock was taken before the last
 * reboot (a power cut: the pid may belong to something else now), or when the pid's start
 * time differs (the pid was reused). A pid alone is not an identity: in a container the agent
 * is pid 1 on every start, with the same boot id; so a lock naming our own pid counts only if
 * this process wrote it (on this file layer), otherwise it is a previous incarnation's.
 * A `.lock` file from before this layout is read the same way.
 */
export const LOCK_PREFIX = '.lock';

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

/**
 * Names of the lock files this process wrote and has not removed, per file layer (a simulated
 * disk is another machine). By name, not path: the random part makes a name unique, and one
 * directory may be spelled several ways (relative, absolute, through a symlink).
 */
const written = new WeakMap<FileLayer, Set<string>>();
const writtenOn = (fs: FileLayer): Set<string> => {
  let set = written.get(fs);
  if (set === undefined) written.set(fs, (set = new Set()));
  return set;
};

export interface LogLock {
  release(): Promise<void>;
}

export interface LockOptions {
  alive?: IsProcessAlive;
  bootId?: string | undefined;
  /** Attempts before giving up when takers collide (default 5). */
  attempts?: number;
  /** Waits between attempts (default: a timer). Tests pass one that runs on their own clock. */
  sleep?: (ms: number) => Promise<void>;
  /** Spreads the waits between attempts: a number in [0, 1) (default Math.random). Tests pass a seeded one. */
  random?: () => number;
}

const isLockName = (name: string): boolean => name === LOCK_PREFIX || name.startsWith(`${LOCK_PREFIX}.`);

/** The owner's pid if the lock file at `path` belongs to a live process, else undefined. */
async function liveOwner(fs: FileLayer, path: string, alive: IsProcessAlive, bootId: string | undefined): Promise<number | undefined> {
  if (writtenOn(fs).has(basename(path))) return process.pid;
  const raw = await readWholeFile(fs, path);
  if (raw === undefined) return undefined;
  let lock: { pid?: unknown; bootId?: unknown; startTime?: unknown };
  try {
    lock = JSON.parse(raw.toString('utf8')) as typeof lock;
  } catch {
    return undefined; // a torn legacy `.lock` (published files are complete): nobody holds it
  }
  const { pid } = lock;
  if (typeof lock.bootId === 'string' && bootId !== undefined && lock.bootId !== bootId) return undefined; // taken before a reboot
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return undefined;
  if (pid === process.pid) return undefined; // our pid, but not written by this process: a previous incarnation's
  if (!alive(pid)) return undefined;
  if (typeof lock.startTime === 'number') {
    const now = processStartTime(pid);
    if (now !== undefined && now !== lock.startTime) return undefined; // the pid was reused
  }
  return pid;
}

/** A temp file of a live taker is left alone: its pid is in its name. */
function tempOwnerAlive(fs: FileLayer, name: string, alive: IsProcessAlive): boolean {
  if (writtenOn(fs).has(name.slice(0, -'.tmp'.length))) return true;
  const pid = Number(name.split('.')[2]);
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid);
}

async function unlinkQuietly(fs: FileLayer, path: string): Promise<void> {
  try {
    await fs.unlink(path);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
}

/**
 * Lists the lock files in `dir`: the first live owner other than `self` (a path), and the
 * files of dead owners (deleted when `sweep`).
 */
async function scan(fs: FileLayer, dir: string, self: string | undefined, alive: IsProcessAlive, bootId: string | undefined, sweep: boolean): Promise<number | undefined> {
  let holder: number | undefined;
  let swept = false;
  for (const name of await fs.readdir(dir)) {
    if (!isLockName(name)) continue;
    const path = join(dir, name);
    if (path === self) continue;
    if (name.endsWith('.tmp')) {
      if (sweep && !tempOwnerAlive(fs, name, alive)) {
        await unlinkQuietly(fs, path);
        swept = true;
      }
      continue;
    }
    const owner = await liveOwner(fs, path, alive, bootId);
    if (owner !== undefined) holder ??= owner;
    else if (sweep) {
      await unlinkQuietly(fs, path);
      swept = true;
    }
  }
  if (swept) await fs.fsyncDir(dir);
  return holder;
}

/** The pid holding the log's lock if that process is alive, else undefined. */
export async function lockHolder(fs: FileLayer, dir: string, alive: IsProcessAlive = isProcessAlive, bootId: string | undefined = currentBootId()): Promise<number | undefined> {
  try {
    return await scan(fs, dir, undefined, alive, bootId, false);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

export async function acquireLock(fs: FileLayer, dir: string, options: LockOptions = {}): Promise<LogLock> {
  const alive = options.alive ?? isProcessAlive;
  const bootId = 'bootId' in options ? options.bootId : currentBootId();
  const attempts = options.attempts ?? 5;
  const pause = options.sleep ?? sleep;
  const random = options.random ?? Math.random;
  const mine = writtenOn(fs);
  let holder: number | undefined;
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (attempt > 0) await pause(5 + random() * 20 * attempt);
    const path = join(dir, `${LOCK_PREFIX}.${process.pid}.${randomBytes(6).toString('hex')}`);
    const tmp = `${path}.tmp`;
    mine.add(basename(path));
    try {
      await writeFileAtomic(path, JSON.stringify({ pid: process.pid, bootId, startTime: processStartTime(process.pid), acquiredAt: new Date().toISOString() }), { fs, tmp, exclusive: true });
      holder = await scan(fs, dir, path, alive, bootId, true);
    } catch (err) {
      mine.delete(basename(path));
      await unlinkQuietly(fs, tmp).catch(() => undefined);
      await unlinkQuietly(fs, path).catch(() => undefined);
      throw err;
    }
    if (holder === undefined) {
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          await unlinkQuietly(fs, path);
          mine.delete(basename(path));
          await fs.fsyncDir(dir);
        },
      };
    }
    await unlinkQuietly(fs, path);
    mine.delete(basename(path));
    await fs.fsyncDir(dir);
  }
  throw new RoadlogError('ROADLOG_ERR_LOG_LOCKED', `${dir} is in use by process ${String(holder)} (an edge agent is running on it; stop it first)`, { details: { dir, pid: holder } });
}
