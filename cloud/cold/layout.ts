import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeAtomicFs, writeFileAtomic } from '../../shared/atomic-file/index.js';
import type { Run } from './seqs.js';

/**
 * The archive on disk (Hive-partitioned by device time, readable by DuckDB, Spark, Trino):
 *
 *   {archive}/telemetry/date=YYYY-MM-DD/hour=HH/{topic}+{partition}+{start}.parquet
 *   {archive}/telemetry/_state/{topic}+{partition}.json
 *
 * A flush of Kafka partition p covers the offsets from its state's `nextOffset` (`start`,
 * zero-padded to 20 digits) to the last record read; it writes one file per device-time hour
 * its records fall in, all named by that start, so a flush written again after a crash has
 * the same names. The state file is the commit point: written (temp, fsync, rename, fsync the
 * directory) after every file of the flush is renamed into place, it says where p resumes and
 * holds the duplicate filters as of that offset. A file whose start is at or past its
 * partition's `nextOffset` belongs to a flush that never committed: no reader counts it, and
 * the archiver deletes it when it takes p over.
 */
export const TELEMETRY = 'telemetry';
export const STATE_DIR = '_state';

export interface PartitionState {
  v: 1;
  topic: string;
  partition: number;
  /** Every offset below this is archived (or was a duplicate or invalid). */
  nextOffset: number;
  /** Rows archived from this partition, all flushes. */
  rows: number;
  /** Edge duplicates' filter (EnvelopeDedup.snapshot()). */
  envelope: Record<string, string>;
  /** Device retries' filter (SeqRuns.snapshot()). */
  seqs: Record<string, Run[]>;
  /** Duplicates dropped per vehicle, all flushes: [edge re-sends, device retries] (the quality report's). Absent in state files written before it. */
  dropped?: Record<string, [number, number]>;
  updatedAt: number;
}

export interface ArchiveFile {
  /** Path relative to the archive root. */
  path: string;
  /** The hour folder, relative to the archive root. */
  dir: string;
  name: string;
  date: string;
  hour: number;
  /** A flush's file (named by topic, partition and first offset), or a compaction's. */
  kind: 'flush' | 'compact';
  topic: string;
  partition: number;
  /** A flush file's first offset (-1 for a compacted file). */
  start: number;
}

/** A compaction's list of the files it replaces, beside its output (compact.ts). */
export interface CompactInputs {
  v: 1;
  output: string;
  inputs: string[];
}

const FLUSH_FILE = /^(.+)\+(\d+)\+(\d{20})\.parquet$/;
const COMPACT_FILE = /^compact\+([0-9a-f]{16})\.parquet$/;
export const COMPACT_INPUTS = /^compact\+([0-9a-f]{16})\.inputs\.json$/;

export function compactFileName(id: string): string {
  return `compact+${id}.parquet`;
}

export function compactInputsName(id: string): string {
  return `compact+${id}.inputs.json`;
}

export function flushFileName(topic: string, partition: number, start: number): string {
  return `${topic}+${partition}+${String(start).padStart(20, '0')}.parquet`;
}

/** `date=2026-12-02/hour=06` of a device time (UTC). */
export function hourDir(tsMs: number): string {
  const d = new Date(tsMs).toISOString();
  return `date=${d.slice(0, 10)}/hour=${d.slice(11, 13)}`;
}

export function stateFile(archive: string, topic: string, partition: number): string {
  return join(archive, TELEMETRY, STATE_DIR, `${topic}+${partition}.json`);
}

export async function readState(archive: string, topic: string, partition: number): Promise<PartitionState | undefined> {
  let text: string;
  try {
    text = await readFile(stateFile(archive, topic, partition), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return JSON.parse(text) as PartitionState;
}

export async function writeState(archive: string, state: PartitionState): Promise<void> {
  await writeStates(archive, [state]);
}

/** Several partitions' commit points at once: each file written atomically, the state folder made durable once for all. */
export async function writeStates(archive: string, states: readonly PartitionState[]): Promise<void> {
  if (states.length === 0) return;
  const dir = join(archive, TELEMETRY, STATE_DIR);
  await mkdirDurable(archive, join(TELEMETRY, STATE_DIR));
  const settled = await Promise.allSettled(states.map((s) => writeFileAtomic(join(dir, `${s.topic}+${s.partition}.json`), JSON.stringify(s), { syncDir: false })));
  for (const r of settled) if (r.status === 'rejected') throw r.reason;
  await nodeAtomicFs.fsyncDir(dir);
}

/** Every partition's state found in the archive. */
export async function readStates(archive: string): Promise<PartitionState[]> {
  const dir = join(archive, TELEMETRY, STATE_DIR);
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? [] : Promise.reject(err)));
  const out: PartitionState[] = [];
  for (const n of names) if (n.endsWith('.json')) out.push(JSON.parse(await readFile(join(dir, n), 'utf8')) as PartitionState);
  return out;
}

/** One hour folder: its Parquet files, and the compactions' input lists found in it. */
export interface HourFolder {
  dir: string;
  date: string;
  hour: number;
  files: ArchiveFile[];
  /** By compaction id. */
  compactions: Map<string, CompactInputs>;
}

/** Every hour folder of the archive (`date` = YYYY-MM-DD: only that day). */
export async function listHours(archive: string, date?: string): Promise<HourFolder[]> {
  const root = join(archive, TELEMETRY);
  const out: HourFolder[] = [];
  for (const dateDir of await dirs(root, /^date=(\d{4}-\d{2}-\d{2})$/)) {
    if (date !== undefined && dateDir !== `date=${date}`) continue;
    for (const hDir of await dirs(join(root, dateDir), /^hour=(\d{2})$/)) {
      const dir = join(TELEMETRY, dateDir, hDir);
      const folder: HourFolder = { dir, date: dateDir.slice(5), hour: Number(hDir.slice(5)), files: [], compactions: new Map() };
      for (const name of (await readdir(join(archive, dir))).sort()) {
        const base = { path: join(dir, name), dir, name, date: folder.date, hour: folder.hour };
        const m = FLUSH_FILE.exec(name);
        if (m !== null) folder.files.push({ ...base, kind: 'flush', topic: m[1]!, partition: Number(m[2]), start: Number(m[3]) });
        else if (COMPACT_FILE.test(name)) folder.files.push({ ...base, kind: 'compact', topic: '', partition: -1, start: -1 });
        const c = COMPACT_INPUTS.exec(name);
        if (c === null) continue;
        // Deleted since the listing: its compaction finished, and its inputs are gone.
        const text = await readFile(join(archive, dir, name), 'utf8').catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)));
        if (text !== undefined) folder.compactions.set(c[1]!, JSON.parse(text) as CompactInputs);
      }
      out.push(folder);
    }
  }
  return out;
}

/** Every flush file in the archive, committed or not (see committedFiles). */
export async function listFlushFiles(archive: string): Promise<ArchiveFile[]> {
  return (await listHours(archive)).flatMap((h) => h.files.filter((f) => f.kind === 'flush'));
}

/**
 * The files a reader counts, each record once:
 * - a flush's file when its flush committed (its first offset below its partition's nextOffset);
 * - a compaction's output once it is renamed into place;
 * - minus the files a compaction in place replaces (its input list sits beside its output
 *   until the inputs are deleted; a list without its output is a compaction that never
 *   finished, and changes nothing).
 */
export async function committedFiles(archive: string, date?: string): Promise<ArchiveFile[]> {
  const next = new Map((await readStates(archive)).map((s) => [`${s.topic}+${s.partition}`, s.nextOffset]));
  return (await listHours(archive, date)).flatMap((h) => liveFiles(h, next));
}

export function liveFiles(h: HourFolder, next: ReadonlyMap<string, number>): ArchiveFile[] {
  const present = new Set(h.files.map((f) => f.name));
  const replaced = new Set<string>();
  for (const [id, c] of h.compactions) if (present.has(compactFileName(id))) for (const i of c.inputs) replaced.add(i);
  return h.files.filter((f) => !replaced.has(f.name) && (f.kind === 'compact' || f.start < (next.get(`${f.topic}+${f.partition}`) ?? 0)));
}

/**
 * Deletes what a flush of (topic, partition) that never committed left behind: its renamed
 * files (start ≥ nextOffset) and temp files. Returns how many files went.
 */
export async function deleteUncommitted(archive: string, topic: string, partition: number, nextOffset: number): Promise<number> {
  const root = join(archive, TELEMETRY);
  const prefix = `${topic}+${partition}+`;
  let n = 0;
  for (const dateDir of await dirs(root, /^date=/)) {
    for (const hDir of await dirs(join(root, dateDir), /^hour=/)) {
      const dir = join(root, dateDir, hDir);
      let removed = false;
      for (const name of await readdir(dir)) {
        if (!name.startsWith(prefix)) continue;
        const m = FLUSH_FILE.exec(name.replace(/\.tmp$/, ''));
        if (m === null || m[1] !== topic || Number(m[2]) !== partition) continue;
        if (!name.endsWith('.tmp') && Number(m[3]) < nextOffset) continue;
        await unlink(join(dir, name));
        removed = true;
        n++;
      }
      if (removed) await nodeAtomicFs.fsyncDir(dir);
    }
  }
  return n;
}

/** mkdir -p of `rel` under `root`, each directory it creates made durable in its parent. */
export async function mkdirDurable(root: string, rel: string): Promise<void> {
  let at = root;
  for (const part of rel.split('/')) {
    const next = join(at, part);
    const made = await mkdir(next).then(() => true, (err: NodeJS.ErrnoException) => (err.code === 'EEXIST' ? false : Promise.reject(err)));
    if (made) await nodeAtomicFs.fsyncDir(at);
    at = next;
  }
}

async function dirs(dir: string, pattern: RegExp): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? [] : Promise.reject(err)));
  return entries.filter((e) => e.isDirectory() && pattern.test(e.name)).map((e) => e.name).sort();
}
