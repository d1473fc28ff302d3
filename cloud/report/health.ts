import type { AlertEvent } from '../../shared/alerts/index.js';
import { IDLE_MAX_GAP_S } from './fleet.js';
import { baseRowOf, dayOf, ratio, whereSql, type BaseRow, type Detail, type ReportDef } from './model.js';

/**
 * The health report: per vehicle, the alerts the hot path raised (from the alert events topic:
 * each alert once, on the day it opened, by category), the trouble codes the vehicle reported,
 * and the engine's signals as the archive holds them: coolant (highest, average with the engine
 * on, time above 110 °C), oil (lowest pressure with the engine on, time under 90 kPa, how the
 * level moved), battery (lowest, time under 11.8 V). Thresholds are the default rule pack's.
 * Grouped by day, the same columns are the fleet's trend.
 */
const ALERT_COLUMNS = ['category', 'severity', 'alerts', 'late', 'vehicles'];
export const COOLANT_HOT_C = 110;
export const OIL_PRESSURE_LOW_KPA = 90;
export const BATTERY_LOW_V = 11.8;

export const healthReport: ReportDef = {
  name: 'health',
  title: 'Vehicle health',
  description: 'per vehicle: alerts by category (from the alert events topic), trouble codes, coolant, oil and battery figures and the time spent past their limits',
  measures: [
    { name: 'alerts', agg: 'sum', digits: 0 },
    { name: 'criticalAlerts', agg: 'sum', digits: 0 },
    { name: 'alertCategories', agg: 'set' },
    { name: 'dtcCodes', agg: 'set' },
    { name: 'dtcSamples', agg: 'sum', digits: 0 },
    { name: 'coolantMaxC', agg: 'max', digits: 1 },
    { name: 'coolantSumC', agg: 'sum', digits: 1, hidden: true },
    { name: 'engineOnSamples', agg: 'sum', digits: 0, hidden: true },
    { name: 'coolantHotSeconds', agg: 'sum', digits: 0 },
    { name: 'oilPressureMinKpa', agg: 'min', digits: 0 },
    { name: 'oilPressureLowSeconds', agg: 'sum', digits: 0 },
    { name: 'oilLevelChangePct', agg: 'sum', digits: 2 },
    { name: 'oilLevelMinPct', agg: 'min', digits: 2 },
    { name: 'batteryMinV', agg: 'min', digits: 2 },
    { name: 'batteryLowSeconds', agg: 'sum', digits: 0 },
    { name: 'samples', agg: 'sum', digits: 0 },
  ],
  derived: [{ name: 'coolantAvgC', digits: 1, of: (r) => ratio(r.coolantSumC, r.engineOnSamples, 1, 1) }],
  columns: ['alerts', 'criticalAlerts', 'alertCategories', 'dtcCodes', 'dtcSamples', 'coolantMaxC', 'coolantAvgC', 'coolantHotSeconds', 'oilPressureMinKpa', 'oilPressureLowSeconds', 'oilLevelChangePct', 'oilLevelMinPct', 'batteryMinV', 'batteryLowSeconds', 'samples'],
  charts: [
    { title: 'Alerts', field: 'alerts' },
    { title: 'Highest coolant (°C)', field: 'coolantMaxC' },
    { title: 'Oil level change (points)', field: 'oilLevelChangePct', worst: 'low' },
    { title: 'Lowest battery (V)', field: 'batteryMinV', worst: 'low' },
  ],
  detailLists: ['alerts'],
  async collect(ctx) {
    const base = (await ctx.sql(`
WITH d AS (
  SELECT *, (ts - lag(ts) OVER w) / 1000.0 AS dt, oilLevelPct - lag(oilLevelPct) OVER w AS dOil
  FROM (SELECT vehicleId, date AS dday, ts, seq, engineRpm, coolantC, oilPressureKpa, oilLevelPct, batteryV, dtcs FROM ${ctx.relation} WHERE ${whereSql(ctx.query)})
  WINDOW w AS (PARTITION BY vehicleId ORDER BY ts, seq)
)
SELECT vehicleId, dday::VARCHAR AS day, count(*)::INTEGER AS samples,
  (count(*) FILTER (WHERE engineRpm > 0))::INTEGER AS engineOnSamples,
  max(coolantC) AS coolantMaxC,
  sum(coolantC) FILTER (WHERE engineRpm > 0) AS coolantSumC,
  coalesce(sum(dt) FILTER (WHERE coolantC > ${COOLANT_HOT_C} AND dt <= ${IDLE_MAX_GAP_S}), 0) AS coolantHotSeconds,
  min(oilPressureKpa) FILTER (WHERE engineRpm > 0) AS oilPressureMinKpa,
  coalesce(sum(dt) FILTER (WHERE engineRpm > 0 AND oilPressureKpa < ${OIL_PRESSURE_LOW_KPA} AND dt <= ${IDLE_MAX_GAP_S}), 0) AS oilPressureLowSeconds,
  coalesce(sum(dOil), 0) AS oilLevelChangePct,
  min(oilLevelPct) AS oilLevelMinPct,
  min(batteryV) AS batteryMinV,
  coalesce(sum(dt) FILTER (WHERE batteryV < ${BATTERY_LOW_V} AND dt <= ${IDLE_MAX_GAP_S}), 0) AS batteryLowSeconds,
  (count(*) FILTER (WHERE len(dtcs) > 0))::INTEGER AS dtcSamples,
  coalesce(array_to_string(list_sort(list_distinct(flatten(list(dtcs)))), ' '), '') AS dtcCodes,
  0 AS alerts, 0 AS criticalAlerts, '' AS alertCategories
FROM d GROUP BY vehicleId, dday`)) as BaseRow[];
    const notes: string[] = [];
    const details: Detail[] = [];
    const alerts = await readAlertsFor(ctx);
    if (typeof alerts === 'string') {
      notes.push(`Alerts: the alert events topic could not be read (${alerts}); the alert columns are 0.`);
      details.push({ name: 'alerts', title: 'Alerts by category (not read)', columns: ALERT_COLUMNS, rows: [] });
    } else {
      const rowOf = baseRowOf(base);
      const byCategory = new Map<string, { category: string; severity: string; alerts: number; late: number; vehicles: Set<string> }>();
      for (const a of alerts) {
        const k = `${a.category}\u0000${a.severity}`;
        let c = byCategory.get(k);
        if (c === undefined) byCategory.set(k, (c = { category: a.category, severity: a.severity, alerts: 0, late: 0, vehicles: new Set() }));
        c.alerts++;
        if (a.late) c.late++;
        c.vehicles.add(a.vehicleId || `gateway ${a.gatewayId}`);
        if (a.vehicleId === '') continue; // a gateway's alert: in the table by category only
        const row = rowOf(a.vehicleId, dayOf(a.openedAt));
        row.alerts = Number(row.alerts ?? 0) + 1;
        if (a.severity === 'critical') row.criticalAlerts = Number(row.criticalAlerts ?? 0) + 1;
        row.alertCategories = `${String(row.alertCategories ?? '')} ${a.category}`.trim();
      }
      details.push({
        name: 'alerts',
        title: 'Alerts by category',
        columns: ALERT_COLUMNS,
        rows: [...byCategory.values()].sort((a, b) => b.alerts - a.alerts || a.category.localeCompare(b.category)).map((c) => ({ category: c.category, severity: c.severity, alerts: c.alerts, late: c.late, vehicles: c.vehicles.size })),
      });
    }
    notes.push(`Limits: coolant above ${COOLANT_HOT_C} °C, oil pressure under ${OIL_PRESSURE_LOW_KPA} kPa with the engine on, battery under ${BATTERY_LOW_V} V (the default rule pack's); coolant average with the engine on.`);
    return { base, details, notes };
  },
};

/** Each alert once (its newest event), opened within the query's range, for its vehicle; why not, when the topic cannot be read. */
async function readAlertsFor(ctx: Parameters<ReportDef['collect']>[0]): Promise<AlertEvent[] | string> {
  const k = await ctx.kafka();
  if (k === undefined) return 'no Kafka';
  const { readAlerts } = await import('../hot/alerts.js');
  const { from, to, vehicle } = ctx.query;
  try {
    const all = await readAlerts(k.kafka, k.topic('alerts'), 30_000);
    return [...all.values()].filter((a) => a.openedAt >= from && a.openedAt < to && (vehicle === undefined || a.vehicleId === vehicle));
  } catch (err) {
    return (err as Error).message.split('\n')[0]!;
  }
}
