import { BIGINT, DOUBLE, DuckDBDataChunk, INTEGER, VARCHAR, type DuckDBAppender, type DuckDBConnection, type DuckDBType } from '@duckdb/node-api';
import type { Envelope } from '../../shared/envelope/index.js';
import type { Telemetry } from '../../shared/schema/index.js';

/**
 * Rows of one Kafka partition waiting for the next flush, held in a DuckDB table (columnar:
 * far smaller than the parsed JSON objects), and written out as one Parquet file per
 * device-time hour.
 *
 * The archived columns (see cloud/README.md, "Archive"): the telemetry fields typed, `time` a
 * TIMESTAMP of `ts`, the position as `lat`/`lon`, `dtcs` a list of strings; the envelope
 * (gatewayId, edgeLog, edgeLane, edgePartition, edgeOffset, ingestTs; null for a record no
 * roadlog gateway sent); the Kafka coordinates (kafkaTopic, kafkaPartition, kafkaOffset,
 * kafkaTimestamp). The Hive partition columns `date` and `hour` are in the path.
 */
const STAGE_COLUMNS: readonly [string, DuckDBType, string][] = [
  ['v', INTEGER, 'INTEGER'],
  ['vehicleId', VARCHAR, 'VARCHAR'],
  ['seq', BIGINT, 'BIGINT'],
  ['ts', BIGINT, 'BIGINT'],
  ['speedKph', DOUBLE, 'DOUBLE'],
  ['longAccelMps2', DOUBLE, 'DOUBLE'],
  ['engineRpm', DOUBLE, 'DOUBLE'],
  ['coolantC', DOUBLE, 'DOUBLE'],
  ['oilPressureKpa', DOUBLE, 'DOUBLE'],
  ['oilLevelPct', DOUBLE, 'DOUBLE'],
  ['fuelLevelPct', DOUBLE, 'DOUBLE'],
  ['fuelUsedL', DOUBLE, 'DOUBLE'],
  ['odometerKm', DOUBLE, 'DOUBLE'],
  ['batteryV', DOUBLE, 'DOUBLE'],
  ['lat', DOUBLE, 'DOUBLE'],
  ['lon', DOUBLE, 'DOUBLE'],
  ['dtcs', VARCHAR, 'VARCHAR'],
  ['gatewayId', VARCHAR, 'VARCHAR'],
  ['edgeLog', VARCHAR, 'VARCHAR'],
  ['edgeLane', VARCHAR, 'VARCHAR'],
  ['edgePartition', INTEGER, 'INTEGER'],
  ['edgeOffset', VARCHAR, 'VARCHAR'],
  ['ingestTs', BIGINT, 'BIGINT'],
  ['kafkaOffset', BIGINT, 'BIGINT'],
  ['kafkaTimestamp', BIGINT, 'BIGINT'],
  ['hourBucket', BIGINT, 'BIGINT'],
];

/** What a Parquet file holds, in order: the staged columns cast to their archived types. */
function selectList(topic: string, partition: number): string {
  return [
    'v::UTINYINT AS v',
    'vehicleId',
    'seq',
    'ts',
    'epoch_ms(ts) AS time',
    'speedKph',
    'longAccelMps2',
    'engineRpm',
    'coolantC',
    'oilPressureKpa',
    'oilLevelPct',
    'fuelLevelPct',
    'fuelUsedL',
    'odometerKm',
    'batteryV',
    'lat',
    'lon',
    "CASE WHEN dtcs = '' THEN []::VARCHAR[] ELSE string_split(dtcs, ',') END AS dtcs",
    'gatewayId',
    'edgeLog',
    'edgeLane',
    'edgePartition',
    'edgeOffset::UBIGINT AS edgeOffset',
    'ingestTs',
    `'${topic.replace(/'/g, "''")}' AS kafkaTopic`,
    `${partition}::INTEGER AS kafkaPartition`,
    'kafkaOffset',
    'kafkaTimestamp',
  ].join(', ');
}

const CHUNK_ROWS = 2048;
const HOUR_MS = 3_600_000;

export class Stage {
  private appender: DuckDBAppender | undefined;
  private cols: unknown[][] = STAGE_COLUMNS.map(() => []);
  private pendingRows = 0;
  rows = 0;
  /** Bytes of the records' JSON (the flush-by-size measure). */
  bytes = 0;
  /** Wall clock of the first row since the last flush. */
  firstAt = 0;
  readonly hours = new Set<number>();
  private readonly table: string;

  private constructor(
    private readonly conn: DuckDBConnection,
    private readonly topic: string,
    private readonly partition: number,
  ) {
    this.table = `stage_${partition}`;
  }

  static async create(conn: DuckDBConnection, topic: string, partition: number): Promise<Stage> {
    const s = new Stage(conn, topic, partition);
    await s.reset();
    return s;
  }

  add(t: Telemetry, env: Envelope | undefined, kafkaOffset: string, kafkaTimestamp: string, jsonBytes: number, now: number): void {
    if (this.rows === 0) this.firstAt = now;
    const hour = Math.floor(t.ts / HOUR_MS);
    this.hours.add(hour);
    const c = this.cols;
    c[0]!.push(t.v);
    c[1]!.push(t.vehicleId);
    c[2]!.push(BigInt(t.seq));
    c[3]!.push(BigInt(t.ts));
    c[4]!.push(t.speedKph);
    c[5]!.push(t.longAccelMps2);
    c[6]!.push(t.engineRpm);
    c[7]!.push(t.coolantC);
    c[8]!.push(t.oilPressureKpa);
    c[9]!.push(t.oilLevelPct);
    c[10]!.push(t.fuelLevelPct);
    c[11]!.push(t.fuelUsedL);
    c[12]!.push(t.odometerKm);
    c[13]!.push(t.batteryV);
    c[14]!.push(t.position.lat);
    c[15]!.push(t.position.lon);
    c[16]!.push(t.dtcs.join(','));
    c[17]!.push(env?.gatewayId ?? null);
    c[18]!.push(env?.edgeLog ?? null);
    c[19]!.push(env?.edgeLane ?? null);
    c[20]!.push(env?.edgePartition ?? null);
    c[21]!.push(env === undefined ? null : env.edgeOffset.toString());
    c[22]!.push(env === undefined ? null : BigInt(env.ingestTs));
    c[23]!.push(BigInt(kafkaOffset));
    c[24]!.push(BigInt(kafkaTimestamp));
    c[25]!.push(BigInt(hour));
    this.rows++;
    this.bytes += jsonBytes;
    if (++this.pendingRows === CHUNK_ROWS) this.appendChunk();
  }

  private appendChunk(): void {
    if (this.pendingRows === 0) return;
    const chunk = DuckDBDataChunk.create(STAGE_COLUMNS.map((c) => c[1]), this.pendingRows);
    chunk.setColumns(this.cols as never);
    this.appender!.appendDataChunk(chunk);
    this.cols = STAGE_COLUMNS.map(() => []);
    this.pendingRows = 0;
  }

  /**
   * Writes one Parquet file per device-time hour held: `pathFor(hourStartMs)` names each (a
   * temp path; the caller fsyncs and renames). Rows in Kafka offset order.
   */
  async writeFiles(pathFor: (hourStartMs: number) => string): Promise<{ path: string; hourStartMs: number; rows: number }[]> {
    this.appendChunk();
    this.appender!.flushSync();
    const out: { path: string; hourStartMs: number; rows: number }[] = [];
    const select = selectList(this.topic, this.partition);
    for (const hour of [...this.hours].sort((a, b) => a - b)) {
      const path = pathFor(hour * HOUR_MS);
      const reader = await this.conn.runAndReadAll(`COPY (SELECT ${select} FROM ${this.table} WHERE hourBucket = ${hour} ORDER BY kafkaOffset) TO '${path.replace(/'/g, "''")}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`);
      out.push({ path, hourStartMs: hour * HOUR_MS, rows: Number(reader.getColumns()[0]?.[0] ?? 0) });
    }
    return out;
  }

  /** Empties the stage (after a flush, or when the partition is taken away). */
  async reset(): Promise<void> {
    this.appender?.closeSync();
    await this.conn.run(`CREATE OR REPLACE TABLE ${this.table} (${STAGE_COLUMNS.map(([n, , t]) => `${n} ${t}`).join(', ')})`);
    this.appender = await this.conn.createAppender(this.table);
    this.cols = STAGE_COLUMNS.map(() => []);
    this.pendingRows = 0;
    this.rows = 0;
    this.bytes = 0;
    this.hours.clear();
  }

  async drop(): Promise<void> {
    this.appender?.closeSync();
    this.appender = undefined;
    await this.conn.run(`DROP TABLE IF EXISTS ${this.table}`);
  }
}
