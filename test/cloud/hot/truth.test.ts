import { describe, expect, it } from 'vitest';
import { runFleetThroughEngine, scoreAlerts } from '../../support/alert-truth.js';

describe('default rule pack against the simulator truth (engine only)', () => {
  it('finds every observable fault and raises no alert outside one: precision = recall = 1.0', () => {
    const { inputs, events } = runFleetThroughEngine(7, 120, 1);
    const score = scoreAlerts(inputs, events);
    expect(score.observable).toBeGreaterThan(20);
    // every fault kind the simulator injects shows up in this fleet, so each rule kind is checked
    expect(Object.keys(score.byCategory).sort()).toEqual(['dtc', 'gps_jump', 'harsh_braking', 'oil_leak', 'overheating', 'silent', 'stuck_sensor'].sort());
    expect(score.misses).toEqual([]);
    expect(score.falseAlerts).toEqual([]);
  }, 120_000);
});
