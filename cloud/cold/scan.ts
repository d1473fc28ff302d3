import { join } from 'node:path';
import { committedFiles, type ArchiveFile } from './layout.js';

/**
 * The archive as one DuckDB relation: the committed flush files (layout.ts), with the Hive
 * columns `date` and `hour`. A file deleted between listing and reading (a compaction or an
 * archiver's clean-up in between) makes DuckDB fail with "No files found" or an IO error;
 * `withArchive` lists again and retries.
 */
export function archiveRelation(archive: string, files: readonly ArchiveFile[]): string {
  if (files.length === 0) return EMPTY;
  const list = files.map((f) => `'${join(archive, f.path).replace(/'/g, "''")}'`).join(', ');
  return `read_parquet([${list}], hive_partitioning = true, union_by_name = true)`;
}

/** An empty relation with the archive's columns that the reports use, for an archive with no file yet. */
const EMPTY = `(SELECT NULL::VARCHAR AS vehicleId, NULL::BIGINT AS seq, NULL::BIGINT AS ts, NULL::TIMESTAMP AS time, NULL::DOUBLE AS speedKph, NULL::DOUBLE AS longAccelMps2, NULL::DOUBLE AS engineRpm, NULL::DOUBLE AS coolantC, NULL::DOUBLE AS oilPressureKpa, NULL::DOUBLE AS oilLevelPct, NULL::DOUBLE AS fuelLevelPct, NULL::DOUBLE AS fuelUsedL, NULL::DOUBLE AS odometerKm, NULL::DOUBLE AS batteryV, NULL::DOUBLE AS lat, NULL::DOUBLE AS lon, NULL::VARCHAR[] AS dtcs, NULL::VARCHAR AS gatewayId, NULL::VARCHAR AS edgeLane, NULL::BIGINT AS ingestTs, NULL::VARCHAR AS kafkaTopic, NULL::INTEGER AS kafkaPartition, NULL::BIGINT AS kafkaOffset, NULL::BIGINT AS kafkaTimestamp, NULL::DATE AS date, NULL::BIGINT AS hour WHERE false)`;

/** Runs `fn` with the archive's relation; when a listed file vanished meanwhile, lists again (up to 5 times). */
export async function withArchive<T>(archive: string, fn: (relation: string) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const relation = archiveRelation(archive, await committedFiles(archive));
    try {
      return await fn(relation);
    } catch (err) {
      const msg = (err as Error).message;
      if (attempt >= 5 || !/No files found|No such file|IO Error|Cannot open file/i.test(msg)) throw err;
    }
  }
}
