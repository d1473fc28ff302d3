import { describe, expect, it } from 'vitest';
import { runFleetThroughEngine, scoreAlerts } from '../../support/alert-truth.js';

describe('default rule pack against the simulator truth (engine only)', () => {
  it('finds every observable fault and raises no alert outside one: precision = recall = 1.0', () => {
    const { inputs, events } = runFleetThroughEngine(7, 120, 1);
    const score = scoreAlerts(inputs, events);
    console.log(JSON.stringify({ ...score, misses: score.misses.slice(0, 10), falseAlerts: score.falseAlerts.slice(0, 10) }, null, 1));
    expect(score.observable).toBeGreaterThan(20);
    expect(score.misses).toEqual([]);
    expect(score.falseAlerts).toEqual([]);
  });
});
