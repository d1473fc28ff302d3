import { describe, expect, it } from 'vitest';
import { exampleTelemetry, parseTelemetry, telemetryJsonSchema, validateTelemetry, type Telemetry } from '../../../shared/schema/index.js';

const valid = exampleTelemetry();

function without(key: keyof Telemetry): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...valid };
  delete copy[key];
  return copy;
}

function issuesOf(input: unknown): { path: string; message: string }[] {
  const r = validateTelemetry(input);
  if (r.ok) throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
  expect(r.code).toBe('ROADLOG_ERR_SCHEMA_INVALID');
  return r.issues;
}

describe('telemetry v1 schema', () => {
  it('accepts the example record and returns it unchanged', () => {
    const r = parseTelemetry(JSON.stringify(valid));
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.value).toEqual(valid);
      expect(r.version).toBe(1);
    }
  });

  it('accepts boundary values and trouble codes', () => {
    const edge = exampleTelemetry({ speedKph: 0, engineRpm: 0, oilLevelPct: 100, fuelLevelPct: 0, longAccelMps2: -50, dtcs: ['P0217', 'U0100', 'C1234', 'B0001'], seq: 0 });
    expect(validateTelemetry(edge).ok).toBe(true);
  });

  it('accepts bytes as well as strings', () => {
    expect(parseTelemetry(new TextEncoder().encode(JSON.stringify(valid))).ok).toBe(true);
  });

  const cases: [string, unknown, string, RegExp][] = [
    ['a number out of range', { ...valid, speedKph: 512 }, 'speedKph', /≤ 400, got 512/],
    ['a negative counter', { ...valid, fuelUsedL: -1 }, 'fuelUsedL', /≥ 0, got -1/],
    ['a fractional seq', { ...valid, seq: 1.5 }, 'seq', /integer, got 1.5/],
    ['a string where a number belongs', { ...valid, coolantC: '90' }, 'coolantC', /expected a number, got "90"/],
    ['a missing field', without('oilPressureKpa'), 'oilPressureKpa', /got nothing/],
    ['an unknown field (typo in units)', { ...valid, speedKmh: 50 }, 'speedKmh', /unknown key/],
    ['a vehicle id that is not a topic level', { ...valid, vehicleId: 'car/7' }, 'vehicleId', /got "car\/7"/],
    ['an empty vehicle id', { ...valid, vehicleId: '' }, 'vehicleId', /got ""/],
    ['a device clock that is not set', { ...valid, ts: 0 }, 'ts', /≥ 946684800000, got 0/],
    ['a malformed trouble code', { ...valid, dtcs: ['P0217', 'oops'] }, 'dtcs.1', /OBD-II/],
    ['too many trouble codes', { ...valid, dtcs: Array.from({ length: 33 }, () => 'P0217') }, 'dtcs', /at most 32 items, got 33/],
    ['a position off the globe', { ...valid, position: { lat: 91, lon: 0 } }, 'position.lat', /≤ 90, got 91/],
    ['an unknown key inside position', { ...valid, position: { lat: 1, lon: 2, alt: 3 } }, 'position.alt', /unknown key/],
    ['an unsupported version', { ...valid, v: 2 }, 'v', /expected one of 1, got 2/],
    ['a missing version', without('v'), 'v', /schema version/],
    ['an array instead of an object', [valid], '(root)', /expected an object, got an array/],
    ['null', null, '(root)', /got null/],
  ];

  for (const [what, input, path, message] of cases) {
    it(`rejects ${what}, naming ${path}`, () => {
      const issues = issuesOf(input);
      const issue = issues.find((i) => i.path === path);
      expect(issue, JSON.stringify(issues)).toBeDefined();
      expect(issue?.message).toMatch(message);
    });
  }

  it('rejects bytes that are not JSON or not UTF-8 with its own code', () => {
    for (const payload of ['{"v":1,', 'hello', new Uint8Array([0xff, 0xfe, 0x7b])]) {
      const r = parseTelemetry(payload);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.code).toBe('ROADLOG_ERR_PAYLOAD_NOT_JSON');
    }
  });

  it('reports every bad field at once', () => {
    const issues = issuesOf({ ...valid, speedKph: -1, batteryV: 99 });
    expect(issues.map((i) => i.path).sort()).toEqual(['batteryV', 'speedKph']);
  });

  it('exports a JSON Schema with every field, required and closed', () => {
    const schema = telemetryJsonSchema() as { properties: Record<string, unknown>; required: string[]; additionalProperties: boolean };
    expect(Object.keys(schema.properties).sort()).toEqual(Object.keys(valid).sort());
    expect(schema.required.sort()).toEqual(Object.keys(valid).sort());
    expect(schema.additionalProperties).toBe(false);
  });
});
