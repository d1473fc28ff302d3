import { DOUBLE, DuckDBDataChunk, INTEGER, VARCHAR, type DuckDBAppender, type DuckDBConnection, type DuckDBInstance, type DuckDBType } from '@duckdb/node-api';
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
  ['v', DOUBLE, 'DOUBLE'],
  ['vehicleId', VARCHAR, 'VARCHAR'],
  ['seq', DOUBLE, 'DOUBLE'],
  ['ts', DOUBLE, 'DOUBLE'],
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
  // The envelope's (gateway, edge log, lane, edge partition): an index into the stage's sources (few per partition).
  ['source', INTEGER, 'INTEGER'],
  // The edge offset (an unsigned 64-bit number) in two exact halves.
  ['edgeOffsetHi', DOUBLE, 'DOUBLE'],
  ['edgeOffsetLo', DOUBLE, 'DOUBLE'],
  ['ingestTs', DOUBLE, 'DOUBLE'],
  ['kafkaOffset', DOUBLE, 'DOUBLE'],
  ['kafkaTimestamp', DOUBLE, 'DOUBLE'],
  ['hourBucket', INTEGER, 'INTEGER'],
];

/**
 * What a Parquet file holds, in order: the staged columns cast to their archived types; the
 * envelope's source looked up in the stage's dictionary as list literals (a scan, a filter and
 * a projection: DuckDB keeps the rows in the order they were appended, which is Kafka's).
 */
function selectList(topic: string, partition: number, sources: readonly Source[]): string {
  const lookup = (field: keyof Source, type: string) => (sources.length === 0 ? `NULL::${type}` : `list_extract([${sources.map((x) => (typeof x[field] === 'number' ? String(x[field]) : textLiteral(String(x[field])))).join(', ')}]::${type}[], source + 1)`);
  return [
    'v::UTINYINT AS v',
    'vehicleId',
    'seq::BIGINT AS seq',
    'ts::BIGINT AS ts',
    'epoch_ms(ts::BIGINT) AS time',
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
    `${lookup('gatewayId', 'VARCHAR')} AS gatewayId`,
    `${lookup('edgeLog', 'VARCHAR')} AS edgeLog`,
    `${lookup('edgeLane', 'VARCHAR')} AS edgeLane`,
    `${lookup('edgePartition', 'INTEGER')} AS edgePartition`,
    '(edgeOffsetHi::UBIGINT << 32) + edgeOffsetLo::UBIGINT AS edgeOffset',
    'ingestTs::BIGINT AS ingestTs',
    `'${topic.replace(/'/g, "''")}' AS kafkaTopic`,
    `${partition}::INTEGER AS kafkaPartition`,
    'kafkaOffset::BIGINT AS kafkaOffset',
    'kafkaTimestamp::BIGINT AS kafkaTimestamp',
  ].join(', ');
}

/** Where a record came from: its envelope's gateway, edge log, lane and edge partition (a stage's dictionary). */
interface Source {
  gatewayId: string;
  edgeLog: string;
  edgeLane: string;
  edgePartition: number;
}

const CHUNK_ROWS = 2048;
const HOUR_MS = 3_600_000;

/** Any header text as a SQL value, whatever bytes it holds (hex-encoded: no quoting to get wrong, no NUL to cut the statement). */
function textLiteral(s: string): string {
  return `decode(unhex('${Buffer.from(s, 'utf8').toString('hex')}'))`;
}

function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

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
  private sources: Source[] = [];
  private sourceIds = new Map<string, number>();
  /** The previous record's source: a partition's records mostly come from one edge partition in a row. */
  private lastSource: { env: Envelope; id: number } | undefined;

  private constructor(
    private readonly conn: DuckDBConnection,
    private readonly topic: string,
    private readonly partition: number,
  ) {
    this.table = `stage_${partition}`;
  }

  /** A stage on a connection of its own, so that partitions' flushes can run side by side. */
  static async create(db: DuckDBInstance, topic: string, partition: number): Promise<Stage> {
    const s = new Stage(await db.connect(), topic, partition);
    await s.reset();
    return s;
  }

  add(t: Telemetry, env: Envelope | undefined, kafkaOffset: number, kafkaTimestamp: number, jsonBytes: number, now: number): void {
    if (this.rows === 0) this.firstAt = now;
    const hour = Math.floor(t.ts / HOUR_MS);
    this.hours.add(hour);
    const c = this.cols;
    c[0]!.push(t.v);
    c[1]!.push(t.vehicleId);
    c[2]!.push(t.seq);
    c[3]!.push(t.ts);
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
    c[16]!.push(t.dtcs.length === 0 ? '' : t.dtcs.join(','));
    if (env === undefined) {
      c[17]!.push(null);
      c[18]!.push(null);
      c[19]!.push(null);
      c[20]!.push(null);
    } else {
      c[17]!.push(this.sourceOf(env));
      c[18]!.push(Number(env.edgeOffset >> 32n));
      c[19]!.push(Number(env.edgeOffset & 0xffffffffn));
      c[20]!.push(env.ingestTs);
    }
    c[21]!.push(kafkaOffset);
    c[22]!.push(kafkaTimestamp);
    c[23]!.push(hour);
    this.rows++;
    this.bytes += jsonBytes;
    if (++this.pendingRows === CHUNK_ROWS) this.appendChunk();
  }

  private sourceOf(env: Envelope): number {
    const last = this.lastSource;
    if (last !== undefined && last.env.gatewayId === env.gatewayId && last.env.edgeLog === env.edgeLog && last.env.edgeLane === env.edgeLane && last.env.edgePartition === env.edgePartition) return last.id;
    const id = this.sourceId(env);
    this.lastSource = { env, id };
    return id;
  }

  private sourceId(env: Envelope): number {
    const key = `${env.gatewayId}\u0000${env.edgeLog}\u0000${env.edgeLane}\u0000${env.edgePartition}`;
    let id = this.sourceIds.get(key);
    if (id === undefined) {
      id = this.sources.length;
      this.sources.push({ gatewayId: env.gatewayId, edgeLog: env.edgeLog, edgeLane: env.edgeLane, edgePartition: env.edgePartition });
      this.sourceIds.set(key, id);
    }
    return id;
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
    const select = selectList(this.topic, this.partition, this.sources);
    for (const hour of [...this.hours].sort((a, b) => a - b)) {
      const path = pathFor(hour * HOUR_MS);
      const reader = await this.conn.runAndReadAll(`COPY (SELECT ${select} FROM ${this.table} WHERE hourBucket = ${hour}) TO ${sqlString(path)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`);
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
    this.sources = [];
    this.sourceIds = new Map();
    this.lastSource = undefined;
  }

  /** Drops the stage's tables and closes its connection. */
  async drop(): Promise<void> {
    this.appender?.closeSync();
    this.appender = undefined;
    await this.conn.run(`DROP TABLE IF EXISTS ${this.table}`);
    this.conn.closeSync();
  }
}
