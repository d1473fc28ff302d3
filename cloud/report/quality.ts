import { DEAD_LETTER_HEADER } from '../../shared/envelope/index.js';
import { readStates } from '../cold/layout.js';
import { baseRowOf, dayOf, whereSql, type BaseRow, type Detail, type ReportDef } from './model.js';

/**
 * The data-quality report: how complete and how timely each vehicle's telemetry is.
 * - `seqGaps`, `missingSeqs`: steps where a vehicle's `seq` jumped by more than one (in
 *   device-time order), and the numbers it skipped (records that never reached the gateway,
 *   or were rejected there). `seqRestarts`: the count went back (a device restart).
 * - `lateRecords`: records that reached Kafka more than 5 s after their device time (an offline
 *   buffer, a gateway backlog: the hot path's default `lateAfter`), and the latest one.
 * - `deadLetters`: records of the vehicle in the dead-letter topic, by the day Kafka got them;
 *   the details list them by reason.
 * - Duplicates removed (edge re-sends, device retries) are counted by the archiver in its state
 *   files since the archive began: listed per vehicle in the details, not limited by --from/--to.
 */
export const LATE_AFTER_MS = 5_000;
const DEAD_COLUMNS = ['reason', 'code', 'records', 'vehicles', 'example'];

export const qualityReport: ReportDef = {
  name: 'quality',
  title: 'Data quality',
  description: 'per vehicle: gaps in seq, late records, dead letters (by reason), and the duplicates the archive removed',
  measures: [
    { name: 'samples', agg: 'sum', digits: 0 },
    { name: 'seqGaps', agg: 'sum', digits: 0 },
    { name: 'missingSeqs', agg: 'sum', digits: 0 },
    { name: 'seqRestarts', agg: 'sum', digits: 0 },
    { name: 'lateRecords', agg: 'sum', digits: 0 },
    { name: 'maxLateSeconds', agg: 'max', digits: 1 },
    { name: 'deadLetters', agg: 'sum', digits: 0 },
  ],
  derived: [{ name: 'completenessPct', digits: 2, of: (r) => (r.samples === null || r.samples === undefined ? null : (100 * Number(r.samples)) / (Number(r.samples) + Number(r.missingSeqs ?? 0))) }],
  columns: ['samples', 'completenessPct', 'seqGaps', 'missingSeqs', 'seqRestarts', 'lateRecords', 'maxLateSeconds', 'deadLetters'],
  charts: [
    { title: 'Completeness by seq (%)', field: 'completenessPct', worst: 'low' },
    { title: 'Late records', field: 'lateRecords' },
    { title: 'Dead letters', field: 'deadLetters' },
  ],
  detailLists: ['deadLetters', 'duplicates'],
  async collect(ctx) {
    const base = (await ctx.sql(`
WITH d AS (
  SELECT vehicleId, dday, ts, kafkaTimestamp, seq - lag(seq) OVER w AS dSeq
  FROM (SELECT vehicleId, date AS dday, ts, seq, kafkaTimestamp FROM ${ctx.relation} WHERE ${whereSql(ctx.query)})
  WINDOW w AS (PARTITION BY vehicleId ORDER BY ts, seq)
)
SELECT vehicleId, dday::VARCHAR AS day, count(*)::INTEGER AS samples,
  (count(*) FILTER (WHERE dSeq > 1))::INTEGER AS seqGaps,
  coalesce(sum(dSeq - 1) FILTER (WHERE dSeq > 1), 0)::BIGINT AS missingSeqs,
  (count(*) FILTER (WHERE dSeq < 0))::INTEGER AS seqRestarts,
  (count(*) FILTER (WHERE kafkaTimestamp - ts > ${LATE_AFTER_MS}))::INTEGER AS lateRecords,
  coalesce(max(kafkaTimestamp - ts) FILTER (WHERE kafkaTimestamp - ts > ${LATE_AFTER_MS}) / 1000.0, 0) AS maxLateSeconds,
  0 AS deadLetters
FROM d GROUP BY vehicleId, dday`)) as BaseRow[];
    const notes: string[] = [];
    const details: Detail[] = [];
    const dead = await readDeadLetters(ctx);
    if (typeof dead === 'string') {
      notes.push(`Dead letters: the dead-letter topic could not be read (${dead}); the column is 0.`);
      details.push({ name: 'deadLetters', title: 'Dead letters by reason (not read)', columns: DEAD_COLUMNS, rows: [] });
    } else {
      const rowOf = baseRowOf(base);
      const byReason = new Map<string, { reason: string; code: string; records: number; vehicles: Set<string>; example: string }>();
      for (const d of dead) {
        const k = `${d.reason}\u0000${d.code}`;
        let c = byReason.get(k);
        if (c === undefined) byReason.set(k, (c = { reason: d.reason, code: d.code, records: 0, vehicles: new Set(), example: d.message }));
        c.records++;
        if (d.vehicleId !== '') c.vehicles.add(d.vehicleId);
        if (d.vehicleId === '') continue;
        const row = rowOf(d.vehicleId, dayOf(d.at));
        row.deadLetters = Number(row.deadLetters ?? 0) + 1;
      }
      details.push({
        name: 'deadLetters',
        title: 'Dead letters by reason',
        columns: DEAD_COLUMNS,
        rows: [...byReason.values()].sort((a, b) => b.records - a.records || a.reason.localeCompare(b.reason)).map((c) => ({ reason: c.reason, code: c.code, records: c.records, vehicles: c.vehicles.size, example: c.example })),
      });
    }
    const dropped = new Map<string, [number, number]>();
    for (const s of await readStates(ctx.archive)) {
      for (const [v, [edge, device]] of Object.entries(s.dropped ?? {})) {
        if (ctx.query.vehicle !== undefined && v !== ctx.query.vehicle) continue;
        const c = dropped.get(v) ?? [0, 0];
        dropped.set(v, [c[0] + edge, c[1] + device]);
      }
    }
    details.push({
      name: 'duplicates',
      title: 'Duplicates removed by the archiver (since the archive began)',
      columns: ['vehicleId', 'edgeResends', 'deviceRetries'],
      rows: [...dropped].sort(([a], [b]) => a.localeCompare(b)).map(([vehicleId, [edgeResends, deviceRetries]]) => ({ vehicleId, edgeResends, deviceRetries })),
    });
    notes.push(`Late: reached Kafka more than ${LATE_AFTER_MS / 1000} s after device time. Dead letters by the time Kafka got them. Duplicates since the archive began, whatever --from/--to say.`);
    return { base, details, notes };
  },
};

interface DeadLetter {
  vehicleId: string;
  at: number;
  reason: string;
  code: string;
  message: string;
}

/** The dead-letter topic's records that Kafka got within the query's range (the key is the vehicle, when one was named); why not, when it cannot be read. */
async function readDeadLetters(ctx: Parameters<ReportDef['collect']>[0]): Promise<DeadLetter[] | string> {
  const k = await ctx.kafka();
  if (k === undefined) return 'no Kafka';
  const { readToEnd } = await import('../admin/read-to-end.js');
  const { from, to, vehicle } = ctx.query;
  const out: DeadLetter[] = [];
  const header = (h: Record<string, unknown> | undefined, name: string): string => {
    const v = h?.[name];
    return v === undefined || v === null ? '' : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  };
  try {
    await readToEnd(k.kafka, k.topic('deadLetters'), (_p, m) => {
      const at = Number(m.timestamp);
      const vehicleId = m.key === null ? '' : m.key.toString('utf8');
      if (at < from || at >= to || (vehicle !== undefined && vehicleId !== vehicle)) return;
      out.push({ vehicleId, at, reason: header(m.headers, DEAD_LETTER_HEADER.reason) || '?', code: header(m.headers, DEAD_LETTER_HEADER.code), message: header(m.headers, DEAD_LETTER_HEADER.message) });
    }, { timeoutMs: 30_000, transactional: false, what: 'dead letters' });
  } catch (err) {
    return (err as Error).message.split('\n')[0]!;
  }
  return out;
}
