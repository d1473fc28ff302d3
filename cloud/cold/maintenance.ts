import { open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeAtomicFs, writeFileAtomic } from '../../shared/atomic-file/index.js';
import { RoadlogError } from '../../shared/errors/index.js';
import { compactFileName, compactInputsName, listHours, mkdirDurable, STATE_DIR, TELEMETRY, type HourFolder } from './layout.js';

/**
 * What compaction and forget do to files, one step at a time, so a test can stop them after
 * any step (as a kill -9 would) and check what a reader counts.
 */
export interface FileOps {
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  fsyncDir(dir: string): Promise<void>;
  fsyncFile(path: string): Promise<void>;
  /** Temp, fsync, rename, fsync the directory. */
  writeAtomic(path: string, text: string): Promise<void>;
}

export const nodeFileOps: FileOps = {
  rename: (from, to) => rename(from, to),
  unlink: (path) => unlink(path),
  fsyncDir: (dir) => nodeAtomicFs.fsyncDir(dir),
  async fsyncFile(path) {
    const fh = await open(path, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
  writeAtomic: (path, text) => writeFileAtomic(path, text),
};

/** Suffix of a forget's rewrite before it replaces the file (never taken for a flush's temp file). */
export const FORGET_TMP = '.forget.tmp';

/**
 * Ends what an interrupted compaction or forget left in an hour folder: a compaction whose
 * output is in place loses its remaining inputs, then its input list; one whose output never
 * got there loses its list and temp output; a forget's temp rewrite is deleted (the file it
 * was for is unchanged). Returns how many files went.
 */
export async function finishInterrupted(archive: string, h: HourFolder, ops: FileOps = nodeFileOps): Promise<number> {
  const dir = join(archive, h.dir);
  const names = new Set(h.files.map((f) => f.name));
  let removed = 0;
  for (const [id, c] of h.compactions) {
    if (names.has(compactFileName(id))) {
      for (const input of c.inputs) if (names.has(input)) {
        await ops.unlink(join(dir, input));
        removed++;
      }
      await ops.fsyncDir(dir);
    } else {
      await ops.unlink(join(dir, `${compactFileName(id)}.tmp`)).catch(ignoreMissing);
    }
    await ops.unlink(join(dir, compactInputsName(id)));
    await ops.fsyncDir(dir);
    removed++;
  }
  for (const name of await readdir(dir)) {
    if (!name.endsWith(FORGET_TMP) && !/^compact\+[0-9a-f]{16}\.parquet\.tmp$/.test(name)) continue;
    await ops.unlink(join(dir, name));
    removed++;
  }
  return removed;
}

/** Runs `fn` holding the archive's maintenance lock (compaction and forget, one at a time). */
export async function withMaintenanceLock<T>(archive: string, fn: () => Promise<T>): Promise<T> {
  if (!(await stat(archive).then((s) => s.isDirectory(), () => false))) throw new RoadlogError('ROADLOG_ERR_FILE_NOT_FOUND', `cold.archive ${archive}: no such folder (an archive is made by \`roadlog cold start\`)`);
  await mkdirDurable(archive, join(TELEMETRY, STATE_DIR));
  const path = join(archive, TELEMETRY, STATE_DIR, 'maintenance.lock');
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) throw new RoadlogError('ROADLOG_ERR_ARCHIVE_BUSY', `${archive}: process ${pid} runs a compaction or a forget on this archive (lock ${path})`);
      await unlink(path).catch(ignoreMissing); // its holder is gone
    }
  }
  try {
    return await fn();
  } finally {
    await unlink(path).catch(ignoreMissing);
  }
}

/** Every hour folder (of `date`), with what interrupted work left there ended first. */
export async function settledHours(archive: string, date: string | undefined, ops: FileOps): Promise<HourFolder[]> {
  const hours = await listHours(archive, date);
  let changed = false;
  for (const h of hours) if ((await finishInterrupted(archive, h, ops)) > 0) changed = true;
  return changed ? listHours(archive, date) : hours;
}

export async function sizeOf(path: string): Promise<number> {
  return (await stat(path)).size;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}
