import { join } from 'node:path';
import { asFileError, RoadlogError } from '../../shared/errors/index.js';
import { CursorStore, positionKey, type CursorPositions } from './cursor.js';
import { errnoCode, nodeFileLayer, readWholeFile, type FileLayer } from './file-layer.js';
import { acquireLock, isProcessAlive, lockHolder, type IsProcessAlive } from './lock.js';
import { partitionDir } from './log.js';
import { parseLogMeta } from './meta.js';
import { decodeOffsetIndex, decodeTimeIndex, encodeOffsetIndex, encodeTimeIndex } from './offset-index.js';
import { LANES, type Lane } from './options.js';
import { Partition } from './partition.js';
import { scanSegment, type CorruptRange } from './recovery.js';

/**
 * Offline tools behind `roadlog log inspect|verify|repair|dump`: they work on a stopped
 * agent's log, given its data directory or the log directory in it (findLog), and refuse
 * (ROADLOG_ERR_LOG_LOCKED) while a live process holds its lock.
 * inspect, verify and dump change nothing; repair takes the lock, cuts torn tails and
 * rebuilds every index.
 */
export interface OfflineLog {
  dir: string;
  partitions: number;
  lanes: Map<Lane, Partition[]>;
  cursors: Map<string, CursorPositions>;
  close(): Promise<void>;
}

interface OfflineDeps {
  fileLayer?: FileLayer;
  isProcessAlive?: IsProcessAlive;
}

/**
 * The log a user means by `dir`: the log directory itself (it holds meta.json), or the agent's
 * data directory, edge.dataDir, the one given to `roadlog edge start --data-dir` (its log/
 * holds meta.json). Anything else is ROADLOG_ERR_LOG_NOT_FOUND, naming what was expected.
 */
export async function findLog(fs: FileLayer, dir: string): Promise<{ dir: string; partitions: number }> {
  let notADirectory = false;
  for (const candidate of [dir, join(dir, 'log')]) {
    const path = join(candidate, 'meta.json');
    const raw = await readWholeFile(fs, path).catch((err: unknown) => {
      if (errnoCode(err) !== 'ENOTDIR') throw asFileError(err, 'edge log', dir);
      notADirectory ||= candidate === dir;
      return undefined;
    });
    if (raw !== undefined) return { dir: candidate, partitions: parseLogMeta(raw, path).partitions };
  }
  const what = notADirectory ? 'is a file' : (await fs.stat(dir)) === undefined ? 'does not exist' : 'holds no edge log';
  throw new RoadlogError('ROADLOG_ERR_LOG_NOT_FOUND', `${dir} ${what}: expected an edge agent's data directory (edge.dataDir, holding log/meta.json) or its log directory (holding meta.json)`, { details: { dir } });
}

async function refuseIfLocked(fs: FileLayer, dir: string, alive: IsProcessAlive): Promise<void> {
  const pid = await lockHolder(fs, dir, alive);
  if (pid !== undefined) throw new RoadlogError('ROADLOG_ERR_LOG_LOCKED', `${dir} is in use by process ${pid} (a running edge agent); stop it first`, { details: { dir, pid } });
}

/** Opens a log without changing it (no lock taken, no truncation). */
export async function openOffline(given: string, deps: OfflineDeps = {}): Promise<OfflineLog> {
  const fs = deps.fileLayer ?? nodeFileLayer;
  const { dir, partitions } = await findLog(fs, given);
  await refuseIfLocked(fs, dir, deps.isProcessAlive ?? isProcessAlive);
  const lanes = new Map<Lane, Partition[]>();
  for (const lane of LANES) {
    lanes.set(lane, await Promise.all(Array.from({ length: partitions }, (_, p) => Partition.open(fs, partitionDir(dir, lane, p), { segmentBytes: Number.MAX_SAFE_INTEGER, indexIntervalBytes: 4096, readOnly: true }))));
  }
  const cursors = await new CursorStore(fs, dir).loadAll();
  return {
    dir,
    partitions,
    lanes,
    cursors,
    async close() {
      for (const parts of lanes.values()) for (const p of parts) await p.close();
    },
  };
}

export interface PartitionReport {
  lane: Lane;
  partition: number;
  startOffset: number;
  endOffset: number;
  segments: number;
  bytes: number;
  firstTs: number | undefined;
  maxTs: number | undefined;
  /** Records not yet committed, per cursor. */
  backlog: Record<string, number>;
}

export function inspectReport(log: OfflineLog): PartitionReport[] {
  const out: PartitionReport[] = [];
  for (const [lane, parts] of log.lanes) {
    parts.forEach((p, partition) => {
      const withData = p.segments.filter((s) => s.nextOffset > s.base);
      const backlog: Record<string, number> = {};
      for (const [name, pos] of log.cursors) backlog[name] = Math.max(0, p.endOffset - Math.max(pos[positionKey(lane, partition)] ?? 0, p.startOffset));
      out.push({
        lane,
        partition,
        startOffset: p.startOffset,
        endOffset: p.endOffset,
        segments: p.segments.length,
        bytes: p.sizeBytes,
        firstTs: withData[0]?.firstTs,
        maxTs: withData.length === 0 ? undefined : Math.max(...withData.map((s) => s.maxTs)),
        backlog,
      });
    });
  }
  return out;
}

export interface VerifyProblem {
  lane: Lane;
  partition: number;
  segment: string;
  kind: 'corrupt-records' | 'torn-tail' | 'index-missing' | 'index-stale';
  detail: string;
  range?: CorruptRange;
}

/** Checks every record's CRC and layout and every index file; changes nothing. */
export async function verifyLog(given: string, deps: OfflineDeps = {}): Promise<{ problems: VerifyProblem[]; records: number; segments: number }> {
  const fs = deps.fileLayer ?? nodeFileLayer;
  const { dir, partitions } = await findLog(fs, given);
  await refuseIfLocked(fs, dir, deps.isProcessAlive ?? isProcessAlive);
  const problems: VerifyProblem[] = [];
  let records = 0;
  let segments = 0;
  for (const lane of LANES) {
    for (let p = 0; p < partitions; p++) {
      const part = await Partition.open(fs, partitionDir(dir, lane, p), { segmentBytes: Number.MAX_SAFE_INTEGER, indexIntervalBytes: 4096, readOnly: true });
      try {
        for (const [i, seg] of part.segments.entries()) {
          segments++;
          const name = seg.logPath;
          const last = i === part.segments.length - 1;
          const nextBase = part.segments[i + 1]?.base;
          const buf = (await readWholeFile(fs, seg.logPath)) ?? Buffer.alloc(0);
          const scan = scanSegment(buf, { base: seg.base, indexIntervalBytes: 4096, ...(nextBase === undefined ? {} : { limitOffset: nextBase }) });
          records += scan.records;
          for (const c of scan.corrupt) problems.push({ lane, partition: p, segment: name, kind: 'corrupt-records', detail: `offsets ${c.fromOffset}..${c.toOffset - 1} damaged (${c.reason}) at byte ${c.position}; readers skip them`, range: c });
          if (scan.tail !== undefined) {
            const kind = last ? 'torn-tail' : 'corrupt-records';
            problems.push({ lane, partition: p, segment: name, kind, detail: `${buf.length - scan.tail.position} bytes after offset ${scan.nextOffset - 1} are not a record (${scan.tail.reason})${last ? '; repair (or the agent on open) cuts them' : ''}` });
          }
          // A segment ending below the next one's base is not a problem: the log leaves offsets unused on purpose after a cut tail (see Partition).
          if (last) continue; // the active segment's index lives in memory
          const ib = await readWholeFile(fs, seg.indexPath);
          const tb = await readWholeFile(fs, seg.timeIndexPath);
          if (ib === undefined || tb === undefined) {
            problems.push({ lane, partition: p, segment: name, kind: 'index-missing', detail: 'no .index/.timeindex (rebuilt on open, or by repair)' });
            continue;
          }
          // The index must be exactly what a rebuild with its own interval gives.
          const oi = decodeOffsetIndex(ib, seg.base);
          const ti = decodeTimeIndex(tb, seg.base);
          let same = oi !== undefined && ti !== undefined;
          if (oi !== undefined && same) {
            const interval = oi.summary.indexIntervalBytes;
            const rebuilt = scanSegment(buf, { base: seg.base, indexIntervalBytes: interval, ...(nextBase === undefined ? {} : { limitOffset: nextBase }) });
            const summary = { indexIntervalBytes: interval, segmentBytes: buf.length, nextOffset: rebuilt.nextOffset, firstTs: rebuilt.firstTs, maxTs: rebuilt.maxTs };
            same = encodeOffsetIndex(rebuilt.index, seg.base, summary).equals(ib) && encodeTimeIndex(rebuilt.timeIndex, seg.base, summary).equals(tb);
          }
          if (!same) problems.push({ lane, partition: p, segment: name, kind: 'index-stale', detail: 'index does not match the segment (rebuilt on open, or by repair)' });
        }
      } finally {
        await part.close();
      }
    }
  }
  return { problems, records, segments };
}

/** Takes the lock, cuts torn tails, rebuilds every index. Damaged records in older segments stay (skipped by readers) and are reported. */
export async function repairLog(given: string, deps: OfflineDeps = {}): Promise<{ truncatedBytes: number; rebuiltIndexes: number; corrupt: { lane: Lane; partition: number; range: CorruptRange }[] }> {
  const fs = deps.fileLayer ?? nodeFileLayer;
  const { dir, partitions } = await findLog(fs, given);
  const lock = await acquireLock(fs, dir, { alive: deps.isProcessAlive ?? isProcessAlive });
  let truncatedBytes = 0;
  let rebuiltIndexes = 0;
  const corrupt: { lane: Lane; partition: number; range: CorruptRange }[] = [];
  try {
    const cursors = [...(await new CursorStore(fs, dir).loadAll()).values()];
    for (const lane of LANES) {
      for (let p = 0; p < partitions; p++) {
        // As the agent does on open: no offset below a committed cursor is handed out again.
        const minNextOffset = Math.max(0, ...cursors.map((c) => c[positionKey(lane, p)] ?? 0));
        const part = await Partition.open(fs, partitionDir(dir, lane, p), { segmentBytes: Number.MAX_SAFE_INTEGER, indexIntervalBytes: 4096, rebuildIndexes: true, minNextOffset });
        truncatedBytes += part.report.truncatedBytes;
        rebuiltIndexes += part.report.rebuiltIndexes;
        for (const range of part.report.corrupt) corrupt.push({ lane, partition: p, range });
        await part.close();
      }
    }
  } finally {
    await lock.release();
  }
  return { truncatedBytes, rebuiltIndexes, corrupt };
}
