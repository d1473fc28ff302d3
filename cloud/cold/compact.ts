import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { RoadlogError } from '../../shared/errors/index.js';
import { compactFileName, compactInputsName, liveFiles, readStates, type CompactInputs } from './layout.js';
import { nodeFileOps, settledHours, sizeOf, withMaintenanceLock, type FileOps } from './maintenance.js';

export interface CompactOptions {
  /** Only this day (YYYY-MM-DD). */
  date?: string;
  /** Files at least this big are left as they are. */
  smallBytes?: number;
  ops?: FileOps;
  /** Called after each hour folder. */
  progress?: (done: number, total: number) => void;
}

export interface CompactResult {
  hours: number;
  compacted: number;
  filesIn: number;
  filesOut: number;
  rows: number;
  bytesIn: number;
  bytesOut: number;
}

export const SMALL_FILE_BYTES = 64 * 1024 * 1024;

/**
 * `roadlog cold compact`: in each hour folder, merges the small files a reader counts (late
 * records' flushes, a small fleet's) into one, rows in (Kafka partition, offset) order.
 *
 * The switch is atomic for readers (layout.ts, committedFiles): the output is written under a
 * temp name and fsynced; the list of the files it replaces is written beside it (temp, fsync,
 * rename); the output is renamed into place, which is the moment readers count it instead of
 * its inputs; then the inputs go, then the list. An interruption at any step leaves each record
 * counted once, and the next compaction (or forget) ends what it left (maintenance.ts). Before
 * the switch the output's row count is checked against the inputs' Parquet metadata.
 */
export async function compactArchive(conn: DuckDBConnection, archive: string, options: CompactOptions = {}): Promise<CompactResult> {
  const ops = options.ops ?? nodeFileOps;
  const small = options.smallBytes ?? SMALL_FILE_BYTES;
  return withMaintenanceLock(archive, async () => {
    const hours = await settledHours(archive, options.date, ops);
    const next = new Map((await readStates(archive)).map((s) => [`${s.topic}+${s.partition}`, s.nextOffset]));
    const result: CompactResult = { hours: hours.length, compacted: 0, filesIn: 0, filesOut: 0, rows: 0, bytesIn: 0, bytesOut: 0 };
    let done = 0;
    for (const h of hours) {
      const dir = join(archive, h.dir);
      const sized = await Promise.all(liveFiles(h, next).map(async (f) => ({ f, bytes: await sizeOf(join(archive, f.path)) })));
      const inputs = sized.filter((x) => x.bytes < small);
      if (inputs.length >= 2) {
        const names = inputs.map((x) => x.f.name).sort();
        const id = createHash('sha256').update(names.join('\n')).digest('hex').slice(0, 16);
        const output = join(dir, compactFileName(id));
        const list = inputs.map((x) => `'${join(archive, x.f.path).replace(/'/g, "''")}'`).join(', ');
        const expected = Number((await conn.runAndReadAll(`SELECT sum(num_rows) FROM parquet_file_metadata([${list}])`)).getColumns()[0]![0]);
        const copied = Number((await conn.runAndReadAll(`COPY (SELECT * FROM read_parquet([${list}], union_by_name = true) ORDER BY kafkaTopic, kafkaPartition, kafkaOffset) TO '${`${output}.tmp`.replace(/'/g, "''")}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`)).getColumns()[0]![0]);
        if (copied !== expected) throw new RoadlogError('ROADLOG_ERR_INTERNAL', `compaction of ${h.dir}: wrote ${copied} rows, its inputs hold ${expected}; nothing replaced`);
        await ops.fsyncFile(`${output}.tmp`);
        const record: CompactInputs = { v: 1, output: compactFileName(id), inputs: names };
        await ops.writeAtomic(join(dir, compactInputsName(id)), JSON.stringify(record));
        await ops.rename(`${output}.tmp`, output);
        await ops.fsyncDir(dir);
        for (const n of names) await ops.unlink(join(dir, n));
        await ops.fsyncDir(dir);
        await ops.unlink(join(dir, compactInputsName(id)));
        await ops.fsyncDir(dir);
        result.compacted++;
        result.filesIn += names.length;
        result.filesOut++;
        result.rows += copied;
        result.bytesIn += inputs.reduce((n, x) => n + x.bytes, 0);
        result.bytesOut += await sizeOf(output);
      }
      options.progress?.(++done, hours.length);
    }
    return result;
  });
}
