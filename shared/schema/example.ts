import type { Telemetry } from './telemetry.js';

/** A valid record, for firmware authors (`roadlog schema example`) and for tests. */
export function exampleTelemetry(overrides: Partial<Telemetry> = {}): Telemetry {
  return {
    v: 1,
    vehicleId: 'VH-0001',
    seq: 42,
    ts: 1_767_225_600_000,
    speedKph: 63.5,
    longAccelMps2: -0.8,
    engineRpm: 2150,
    coolantC: 91.2,
    oilPressureKpa: 310,
    oilLevelPct: 87,
    fuelLevelPct: 54.3,
    fuelUsedL: 1234.56,
    odometerKm: 48211.7,
    batteryV: 13.9,
    position: { lat: 52.3702, lon: 4.8952 },
    dtcs: [],
    ...overrides,
  };
}
