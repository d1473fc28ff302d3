import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { flushFileName, writeState } from '../../cloud/cold/layout.js';

/**
 * An archive in the archiver's layout (hour folders, flush-file names, a committed state file)
 * made straight from newline-delimited telemetry JSON (`roadlog sim --messages`), without Kafka
 * or the archiver: for reports over many rows. `kafkaTimestamp` is the device time plus
 * `lateMs(row)` when given (0 otherwise).
 */
export async function archiveFromMessages(messages: string, archive: string, o: { topic?: string; kafkaDelaySql?: string } = {}): Promise<{ rows: number }> {
  const topic = o.topic ?? 'bench.telemetry.v1';
  const staging = `${archive}.staging`;
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const rows = Number((await c.runAndReadAll(`SELECT count(*) FROM read_json('${messages}', format = 'newline_delimited')`)).getColumns()[0]![0]);
  await c.run(`COPY (
    SELECT v::UTINYINT AS v, vehicleId, seq::BIGINT AS seq, ts::BIGINT AS ts, epoch_ms(ts::BIGINT) AS time, speedKph::DOUBLE AS speedKph, longAccelMps2::DOUBLE AS longAccelMps2,
      engineRpm::DOUBLE AS engineRpm, coolantC::DOUBLE AS coolantC, oilPressureKpa::DOUBLE AS oilPressureKpa, oilLevelPct::DOUBLE AS oilLevelPct, fuelLevelPct::DOUBLE AS fuelLevelPct,
      fuelUsedL::DOUBLE AS fuelUsedL, odometerKm::DOUBLE AS odometerKm, batteryV::DOUBLE AS batteryV, position.lat::DOUBLE AS lat, position.lon::DOUBLE AS lon, from_json(dtcs::JSON, '["VARCHAR"]') AS dtcs,
      'gw-bench' AS gatewayId, NULL::VARCHAR AS edgeLog, 'normal' AS edgeLane, 0 AS edgePartition, NULL::UBIGINT AS edgeOffset, ts::BIGINT AS ingestTs,
      '${topic}' AS kafkaTopic, 0 AS kafkaPartition, (row_number() OVER () - 1)::BIGINT AS kafkaOffset, ts::BIGINT + (${o.kafkaDelaySql ?? '0'}) AS kafkaTimestamp,
      strftime(epoch_ms(ts::BIGINT), '%Y-%m-%d') AS date, strftime(epoch_ms(ts::BIGINT), '%H') AS hour
    FROM read_json('${messages}', format = 'newline_delimited')
  ) TO '${staging}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date, hour))`);
  c.closeSync();
  db.closeSync();
  let start = 0;
  for (const d of (await readdir(staging)).sort()) {
    for (const h of (await readdir(join(staging, d))).sort()) {
      await mkdir(join(archive, 'telemetry', d, h), { recursive: true });
      for (const f of await readdir(join(staging, d, h))) await rename(join(staging, d, h, f), join(archive, 'telemetry', d, h, flushFileName(topic, 0, start++)));
    }
  }
  await rm(staging, { recursive: true, force: true });
  await writeState(archive, { v: 1, topic, partition: 0, nextOffset: start, rows, envelope: {}, seqs: {}, updatedAt: Date.now() });
  return { rows };
}
