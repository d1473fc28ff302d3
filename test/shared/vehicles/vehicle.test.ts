import { describe, expect, it } from 'vitest';
import { formatVehiclesCsv, parseVehiclesCsv } from '../../../shared/vehicles/index.js';

describe('vehicles table CSV', () => {
  it('reads vehicleId, class, depot and per-vehicle rule limits; writes the first three back', () => {
    const refs = parseVehiclesCsv('vehicleId,class,depot,coolant-high.value\nVH-1,truck,lyon,118\nVH-2,car,,\n# a comment\n\n');
    expect(refs).toEqual([
      { vehicleId: 'VH-1', class: 'truck', depot: 'lyon', overrides: { 'coolant-high.value': 118 } },
      { vehicleId: 'VH-2', class: 'car', depot: '', overrides: {} },
    ]);
    expect(parseVehiclesCsv(formatVehiclesCsv(refs)).map((r) => r.vehicleId)).toEqual(['VH-1', 'VH-2']);
  });

  it('errors name the line and the column, with a code', () => {
    expect(() => parseVehiclesCsv('id,class\nVH-1,car')).toThrow(/line 1: expected a header starting vehicleId,class/);
    expect(() => parseVehiclesCsv('vehicleId,class,depot,coolant.max\n')).toThrow(/line 1: column "coolant.max"/);
    expect(() => parseVehiclesCsv('vehicleId,class,depot,coolant-high.value\nVH-1,car,d,hot')).toThrow(/line 2, column coolant-high.value: expected a number, got "hot"/);
    expect(() => parseVehiclesCsv('vehicleId,class,depot\nVH 1,car,d')).toThrow(/line 2, column vehicleId/);
    expect(() => parseVehiclesCsv('vehicleId,class,depot\nVH-1,Car,d')).toThrow(/line 2, column class: expected a lower-case class name/);
    expect(() => parseVehiclesCsv('vehicleId,class,depot\nVH-1,car,d\nVH-1,van,d')).toThrow(/line 3: vehicle VH-1 listed twice/);
    try {
      parseVehiclesCsv('x');
    } catch (err) {
      expect((err as { code: string }).code).toBe('ROADLOG_ERR_VEHICLES_INVALID');
    }
  });
});
