import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { RoadlogError } from '../../shared/errors/index.js';
import { writeFileAtomic } from '../../shared/atomic-file/index.js';
import { readWholeFile, type FileLayer } from './file-layer.js';
import { DEFAULT_PARTITIONS, LANES } from './options.js';

/**
 * A log's meta.json: written when the log is created (temp file, fsync, rename, directory
 * fsync), checked on every open and by the offline tools.
 *
 *   {"format":1,"partitions":2,"lanes":["critical","normal","dead"],"logId":"<16 hex digits>","createdAt":"<ISO 8601>"}
 *
 * `format` is this file's and the segments' format version; `partitions` is fixed for the
 * log's life (a record's partition is `partitionForKey(vehicleId, partitions)`).
 */
export const LOG_FORMAT_VERSION = 1;
const LOG_ID = /^[0-9a-f]{16}$/;

/** An existing log's meta.json, checked: this format, and a partition count the log can have. */
export function parseLogMeta(raw: Buffer, path: string): { partitions: number; logId?: unknown; [key: string]: unknown } {
  let meta: { format?: unknown; partitions?: unknown; logId?: unknown };
  try {
    meta = JSON.parse(raw.toString('utf8')) as typeof meta;
  } catch (err) {
    throw new RoadlogError('ROADLOG_ERR_LOG_FORMAT', `${path}: not JSON (${(err as Error).message})`, { cause: err });
  }
  if (meta.format !== LOG_FORMAT_VERSION) throw new RoadlogError('ROADLOG_ERR_LOG_FORMAT', `${path}: format ${String(meta.format)}, this roadlog reads format ${LOG_FORMAT_VERSION}`);
  const { partitions } = meta;
  if (typeof partitions !== 'number' || !Number.isSafeInteger(partitions) || partitions < 1 || partitions > 1024) {
    throw new RoadlogError('ROADLOG_ERR_LOG_FORMAT', `${path}: partitions ${String(partitions)}, expected a whole number from 1 to 1024`);
  }
  return { ...meta, partitions };
}

/**
 * Creates meta.json for a new log (with `configured` partitions, or DEFAULT_PARTITIONS), or
 * checks an existing one against `configured` when that is set. Returns the log's partition
 * count and its id (an old log without one gets one now).
 */
export async function openLogMeta(fs: FileLayer, dir: string, configured: number | undefined, now: () => number): Promise<{ partitions: number; logId: string }> {
  const path = join(dir, 'meta.json');
  const raw = await readWholeFile(fs, path);
  if (raw === undefined) {
    const partitions = configured ?? DEFAULT_PARTITIONS;
    const logId = randomBytes(8).toString('hex');
    const meta = { format: LOG_FORMAT_VERSION, partitions, lanes: [...LANES], logId, createdAt: new Date(now()).toISOString() };
    await writeFileAtomic(path, `${JSON.stringify(meta)}\n`, { fs });
    return { partitions, logId };
  }
  const meta = parseLogMeta(raw, path);
  const { partitions } = meta;
  if (configured !== undefined && partitions !== configured) {
    throw new RoadlogError('ROADLOG_ERR_LOG_FORMAT', `${dir} has ${partitions} partitions but edge.log.partitions is ${configured} (the count is fixed when the log is created; leave edge.log.partitions unset to use the log's own)`);
  }
  if (typeof meta.logId === 'string' && LOG_ID.test(meta.logId)) return { partitions, logId: meta.logId };
  // A log from before log ids: give it one now.
  const logId = randomBytes(8).toString('hex');
  await writeFileAtomic(path, `${JSON.stringify({ ...meta, logId })}\n`, { fs });
  return { partitions, logId };
}
