import type { AlertEvent } from '../../shared/alerts/index.js';
import type { Telemetry } from '../../shared/schema/index.js';

/**
 * InfluxDB line protocol (the v1 `/write` API with `precision=ms`, also served by InfluxDB 2.x
 * and 3.x):
 *
 *   telemetry,vehicleId=V1,class=van,gatewayId=gw-1 seq=42i,speedKph=51.2,...,dtcs="P0217" 1767592800000
 *   alerts,vehicleId=V1,gatewayId=gw-1,category=overheating,severity=critical,change=opened,alertId=9f… state="open",value=121.5,… 1767592860000
 *
 * The timestamp is device time, and a series is (measurement, tags): the same record written
 * twice is one point, so a replay overwrites instead of adding. Tags with no value are left
 * out (the protocol has no empty tag); a record no roadlog gateway sent has no gatewayId.
 */
const TELEMETRY_FLOATS = ['speedKph', 'longAccelMps2', 'engineRpm', 'coolantC', 'oilPressureKpa', 'oilLevelPct', 'fuelLevelPct', 'fuelUsedL', 'odometerKm', 'batteryV'] as const;

export function telemetryLine(t: Telemetry, tags: { class?: string | undefined; gatewayId?: string | undefined }): string {
  let fields = `seq=${t.seq}i`;
  for (const f of TELEMETRY_FLOATS) fields += `,${f}=${num(t[f])}`;
  fields += `,lat=${num(t.position.lat)},lon=${num(t.position.lon)},dtcs=${str(t.dtcs.join(','))}`;
  return `telemetry${tagSet([['vehicleId', t.vehicleId], ['class', tags.class], ['gatewayId', tags.gatewayId]])} ${fields} ${t.ts}`;
}

/** The device time an alert event belongs at on a chart: when it opened, cleared, or (ack, updates) was detected. */
export function alertTime(e: AlertEvent): number {
  if (e.change === 'opened') return e.openedAt;
  if (e.change === 'cleared' && e.clearedAt !== null) return e.clearedAt;
  return e.detectedAt;
}

export function alertLine(e: AlertEvent): string {
  const tags = tagSet([['vehicleId', e.vehicleId], ['gatewayId', e.gatewayId], ['category', e.category], ['severity', e.severity], ['change', e.change], ['alertId', e.alertId]]);
  let fields = `state=${str(e.state)},rule=${str(e.rule)},message=${str(e.message)},late=${e.late ? 'true' : 'false'},lateByMs=${e.lateByMs}i`;
  if (e.value !== null) fields += `,value=${num(e.value)}`;
  if (e.threshold !== null) fields += `,threshold=${num(e.threshold)}`;
  return `alerts${tags} ${fields} ${alertTime(e)}`;
}

function tagSet(tags: [string, string | undefined][]): string {
  let out = '';
  for (const [k, v] of tags) if (v !== undefined && v !== '') out += `,${k}=${v.replace(/[,= \\]/g, (c) => `\\${c}`)}`;
  return out;
}

/** A float field: always with a decimal point or exponent-free digits (InfluxDB reads both as float). */
function num(x: number): string {
  return Number.isFinite(x) ? String(x) : '0';
}

function str(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, ' ')}"`;
}
