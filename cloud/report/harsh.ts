import { HARSH_BRAKING_MPS2, KM_STEP_OK } from './fleet.js';
import { iso, ratio, round, whereSql, type BaseRow, type ReportDef } from './model.js';

/**
 * The harsh braking report. An event is a run of consecutive samples with `longAccelMps2` ≤ −4
 * (the fleet report's and the hot path's rule), counted on the day it starts; per 100 km of the
 * odometer's plausible steps. Every event is listed with its hardest deceleration and the speed
 * before it.
 */
export const harshReport: ReportDef = {
  name: 'harsh',
  title: 'Harsh braking',
  description: `per vehicle: harsh braking events (runs of samples at or below ${HARSH_BRAKING_MPS2} m/s²) per 100 km, the hardest one, and every event listed`,
  measures: [
    { name: 'harshBrakingEvents', agg: 'sum', digits: 0 },
    { name: 'distanceKm', agg: 'sum', digits: 3 },
    { name: 'hardestMps2', agg: 'min', digits: 2 },
    { name: 'harshSamples', agg: 'sum', digits: 0 },
    { name: 'samples', agg: 'sum', digits: 0 },
  ],
  derived: [{ name: 'harshPer100km', digits: 2, of: (r) => ratio(r.harshBrakingEvents, r.distanceKm, 100, 1) }],
  columns: ['harshBrakingEvents', 'harshPer100km', 'distanceKm', 'hardestMps2', 'harshSamples', 'samples'],
  charts: [
    { title: 'Harsh braking per 100 km', field: 'harshPer100km' },
    { title: 'Harsh braking events', field: 'harshBrakingEvents' },
  ],
  detailLists: ['events'],
  async collect(ctx) {
    await ctx.sql(`CREATE OR REPLACE TEMP TABLE harsh_steps AS
SELECT vehicleId, dday, ts, seq, speedKph, longAccelMps2,
  (ts - lag(ts) OVER w) / 1000.0 AS dt,
  odometerKm - lag(odometerKm) OVER w AS dKm,
  longAccelMps2 <= ${HARSH_BRAKING_MPS2} AS harsh,
  coalesce(lag(longAccelMps2 <= ${HARSH_BRAKING_MPS2}) OVER w, false) AS prevHarsh,
  lag(speedKph) OVER w AS prevSpeedKph
FROM (SELECT vehicleId, date AS dday, ts, seq, speedKph, longAccelMps2, odometerKm FROM ${ctx.relation} WHERE ${whereSql(ctx.query)})
WINDOW w AS (PARTITION BY vehicleId ORDER BY ts, seq)`);
    const base = (await ctx.sql(`
SELECT vehicleId, dday::VARCHAR AS day, count(*)::INTEGER AS samples,
  (count(*) FILTER (WHERE harsh AND NOT prevHarsh))::INTEGER AS harshBrakingEvents,
  (count(*) FILTER (WHERE harsh))::INTEGER AS harshSamples,
  coalesce(sum(dKm) FILTER (WHERE ${KM_STEP_OK}), 0) AS distanceKm,
  min(longAccelMps2) FILTER (WHERE harsh) AS hardestMps2
FROM harsh_steps GROUP BY vehicleId, dday`)) as BaseRow[];
    const events = await ctx.sql(`
WITH i AS (SELECT *, sum(CASE WHEN harsh AND NOT prevHarsh THEN 1 ELSE 0 END) OVER (PARTITION BY vehicleId ORDER BY ts, seq ROWS UNBOUNDED PRECEDING) AS event FROM harsh_steps)
SELECT vehicleId, min(ts) AS atTs, count(*)::INTEGER AS samples, min(longAccelMps2) AS peakMps2, first(prevSpeedKph ORDER BY ts, seq) AS speedBeforeKph, last(speedKph ORDER BY ts, seq) AS speedAfterKph
FROM i WHERE harsh GROUP BY vehicleId, event ORDER BY vehicleId, atTs`);
    return {
      base,
      details: [{
        name: 'events',
        title: 'Harsh braking events',
        columns: ['vehicleId', 'at', 'samples', 'peakMps2', 'speedBeforeKph', 'speedAfterKph'],
        rows: events.map((e) => ({ vehicleId: String(e.vehicleId), at: iso(Number(e.atTs)), samples: Number(e.samples), peakMps2: round(Number(e.peakMps2), 2), speedBeforeKph: e.speedBeforeKph === null ? null : Number(e.speedBeforeKph), speedAfterKph: Number(e.speedAfterKph) })),
      }],
      notes: [`An event: a run of consecutive samples with longitudinal acceleration at or below ${HARSH_BRAKING_MPS2} m/s².`],
    };
  },
};
