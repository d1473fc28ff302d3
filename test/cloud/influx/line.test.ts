import { describe, expect, it } from 'vitest';
import { alertLine, telemetryLine } from '../../../cloud/influx/line.js';
import { exampleTelemetry } from '../../../shared/schema/index.js';

describe('InfluxDB line protocol', () => {
  it('writes telemetry at device time with escaped tags and typed fields', () => {
    const t = exampleTelemetry({ vehicleId: 'VH-1', seq: 7, ts: 1_767_600_000_000, dtcs: ['P0217', 'P0300'] });
    const line = telemetryLine(t, { class: 'van', gatewayId: 'gw 1,a=b' });
    expect(line).toMatch(/^telemetry,vehicleId=VH-1,class=van,gatewayId=gw\\ 1\\,a\\=b seq=7i,speedKph=[\d.]+,/);
    expect(line).toMatch(/,dtcs="P0217,P0300" 1767600000000$/);
    expect(telemetryLine(t, {})).toMatch(/^telemetry,vehicleId=VH-1 seq=7i/);
  });

  it('writes an alert event at its device time with a quoted message', () => {
    const line = alertLine({ alertId: 'a'.repeat(32), vehicleId: 'VH-1', gatewayId: 'gw-1', rule: 'coolant-high', subject: 'VH-1', category: 'overheating', severity: 'critical', state: 'open', change: 'opened', openedAt: 1000, clearedAt: null, detectedAt: 5000, value: 121.5, threshold: 115, message: 'coolant "hot"', late: false, lateByMs: 0, ack: null, operatorClear: null });
    expect(line).toBe(`alerts,vehicleId=VH-1,gatewayId=gw-1,category=overheating,severity=critical,change=opened,alertId=${'a'.repeat(32)} state="open",rule="coolant-high",message="coolant \\"hot\\"",late=false,lateByMs=0i,value=121.5,threshold=115 1000`);
  });
});
