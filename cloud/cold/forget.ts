import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { RoadlogError } from '../../shared/errors/index.js';
import { liveFiles, readStates } from './layout.js';
import { FORGET_TMP, nodeFileOps, settledHours, withMaintenanceLock, type FileOps } from './maintenance.js';

export interface ForgetResult {
  /** Files that held the vehicle, each rewritten without it. */
  files: number;
  rows: number;
  /** Files read. */
  scanned: number;
}

/**
 * `roadlog cold forget <vehicleId>`: rewrites every file a reader counts that holds the vehicle,
 * without its rows, each under a temp name, fsynced, renamed over the original (same name, so
 * the layout's rules hold), directory fsynced. Interrupted, every file is either as it was or
 * without the vehicle, and other vehicles' records are each counted once; run it again to
 * finish. It cannot reach Kafka (raw records stay until the topic's retention), records that
 * arrive after it, or the archiver's duplicate filters (the vehicle's id and its last seq
 * numbers stay in the state files until the vehicle's runs age out).
 */
export async function forgetVehicle(conn: DuckDBConnection, archive: string, vehicleId: string, ops: FileOps = nodeFileOps, progress?: (done: number, total: number) => void): Promise<ForgetResult> {
  return withMaintenanceLock(archive, async () => {
    const hours = await settledHours(archive, undefined, ops);
    const next = new Map((await readStates(archive)).map((s) => [`${s.topic}+${s.partition}`, s.nextOffset]));
    const files = hours.flatMap((h) => liveFiles(h, next));
    const result: ForgetResult = { files: 0, rows: 0, scanned: files.length };
    const id = `'${vehicleId.replace(/'/g, "''")}'`;
    let done = 0;
    for (const f of files) {
      const path = join(archive, f.path);
      const quoted = `'${path.replace(/'/g, "''")}'`;
      const held = Number((await conn.runAndReadAll(`SELECT count(*) FROM read_parquet(${quoted}) WHERE vehicleId = ${id}`)).getColumns()[0]![0]);
      if (held > 0) {
        const total = Number((await conn.runAndReadAll(`SELECT sum(num_rows) FROM parquet_file_metadata(${quoted})`)).getColumns()[0]![0]);
        const tmp = `${path}${FORGET_TMP}`;
        const kept = Number((await conn.runAndReadAll(`COPY (SELECT * FROM read_parquet(${quoted}) WHERE vehicleId IS DISTINCT FROM ${id} ORDER BY kafkaTopic, kafkaPartition, kafkaOffset) TO '${tmp.replace(/'/g, "''")}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`)).getColumns()[0]![0]);
        if (kept !== total - held) throw new RoadlogError('ROADLOG_ERR_INTERNAL', `forget in ${f.path}: kept ${kept} rows of ${total}, ${held} of them the vehicle's; file left as it was`);
        await ops.fsyncFile(tmp);
        await ops.rename(tmp, path);
        await ops.fsyncDir(join(archive, f.dir));
        result.files++;
        result.rows += held;
      }
      progress?.(++done, files.length);
    }
    return result;
  });
}
