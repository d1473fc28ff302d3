import { describe, expect, it } from 'vitest';
import type { AlertEvent } from '../../../../shared/alerts/index.js';
import { exampleTelemetry, type Telemetry } from '../../../../shared/schema/index.js';
import { HotEngine } from '../../../../cloud/hot/engine/engine.js';
import { parseRulePack } from '../../../../cloud/hot/rules/load.js';
import type { Sample } from '../../../../cloud/hot/engine/sample.js';

/**
 * Each rule kind alone, fed in order, late (a vehicle's backlog behind its gateway), out of
 * order (within the allowed lateness) and with duplicates: the alert events depend only on the
 * records, never on how they arrived.
 */
const T0 = Date.parse('2026-01-05T06:00:00Z');

function pack(rule: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return parseRulePack({ version: 1, allowedLateness: '10s', updateEvery: '1h', rules: [{ id: 'r', category: 'c', severity: 'warning', cooldown: 0, ...rule }], ...extra });
}

function rec(seq: number, over: Partial<Telemetry> = {}, vehicleId = 'V1'): Telemetry {
  return { ...exampleTelemetry(), vehicleId, seq, ts: T0 + seq * 1000, engineRpm: 1500, ...over } as Telemetry;
}

function sample(t: Telemetry, arrivedAt = t.ts, lane = 'gw/normal-0/0'): Sample {
  return { t, gatewayId: 'gw', lane, partition: 0, arrivedAt, ingestTs: arrivedAt };
}

function run(p: ReturnType<typeof pack>, records: Telemetry[], order: (rs: Telemetry[]) => Telemetry[] = (x) => x): AlertEvent[] {
  const engine = new HotEngine(p);
  const out: AlertEvent[] = [];
  for (const t of order(records)) out.push(...engine.offer(sample(t)).events);
  out.push(...engine.flush());
  return out;
}

const key = (e: AlertEvent) => `${e.change}:${e.subject}:${e.openedAt}:${e.clearedAt}:${e.value}`;

/** Swaps neighbours (a few seconds out of order, inside the 10 s lateness) and repeats some records. */
function shuffled(rs: Telemetry[]): Telemetry[] {
  const out = [...rs];
  for (let i = 1; i + 1 < out.length; i += 4) [out[i], out[i + 1]] = [out[i + 1]!, out[i]!];
  return out;
}
function duplicated(rs: Telemetry[]): Telemetry[] {
  return rs.flatMap((r, i) => (i % 3 === 0 ? [r, { ...r }] : [r]));
}

/** The same events whatever the arrival order, and they are the `expected` ones. */
function expectStable(p: ReturnType<typeof pack>, records: Telemetry[], expected: string[]): void {
  const inOrder = run(p, records).map(key);
  expect(inOrder).toEqual(expected);
  expect(run(p, records, shuffled).map(key)).toEqual(expected);
  expect(run(p, records, duplicated).map(key)).toEqual(expected);
  expect(run(p, records, (rs) => duplicated(shuffled(rs))).map(key)).toEqual(expected);
}

describe('rule kinds (pure engine)', () => {
  it('threshold with hysteresis: opens above the value, clears only below clearValue', () => {
    const coolant = [90, 105, 111, 115, 108, 104, 112, 99, 95];
    const records = coolant.map((c, i) => rec(i, { coolantC: c }));
    const p = pack({ kind: 'threshold', field: 'coolantC', op: '>', value: 110, clearValue: 100 });
    expectStable(p, records, [`opened::${T0 + 2000}:null:111`, `cleared::${T0 + 2000}:${T0 + 7000}:111`]);
  });

  it('sustained: opens once the condition has held for the duration, in device time', () => {
    const volts = [12, 11.7, 11.6, 11.6, 11.5, 11.9, 11.7, 11.7, 11.7, 11.7, 12.4];
    const p = pack({ kind: 'sustained', field: 'batteryV', op: '<', value: 11.8, for: '3s' });
    const records = volts.map((v, i) => rec(i, { batteryV: v }));
    // held from 1 to 4 (3 s: opens at 4), broken at 5, held again from 6 (3 s at 9), cleared at 10
    expectStable(p, records, [`opened::${T0 + 4000}:null:11.5`, `cleared::${T0 + 4000}:${T0 + 5000}:11.5`, `opened::${T0 + 9000}:null:11.7`, `cleared::${T0 + 9000}:${T0 + 10000}:11.7`]);
  });

  it('windowed count: more than N runs in a hopping event-time window', () => {
    // runs of harsh braking at 2-3, 5 and 8: three in the window [0 s, 10 s)
    const accel = [0, 0, -5, -6, 0, -4.5, 0, 0, -7, 0, 0, 0, 0, 0, 0, 0];
    const p = pack({ kind: 'window_count', field: 'longAccelMps2', op: '<=', value: -4, count: 'runs', threshold: 2, window: '10s', hop: '5s' });
    const records = accel.map((a, i) => rec(i, { longAccelMps2: a }));
    // opens with the third run; at 10 s the windows holding the time ([5 s, 15 s): two runs) are back under the limit
    expectStable(p, records, [`opened::${T0 + 8000}:null:3`, `cleared::${T0 + 8000}:${T0 + 10000}:3`]);
  });

  it('rate of change: falling faster than the limit over the window', () => {
    const p = pack({ kind: 'rate_of_change', field: 'oilLevelPct', direction: 'falling', threshold: 60, per: '1m', window: '5s' });
    // 2 points a second = 120 a minute from 5 s on; steady before
    const levels = [90, 90, 90, 90, 90, 90, 88, 86, 84, 82, 80, 78, 78, 78, 78, 78, 78, 78];
    const records = levels.map((l, i) => rec(i, { oilLevelPct: l }));
    const events = run(p, records);
    expect(events.map((e) => e.change)).toEqual(['opened', 'cleared']);
    expect(events[0]!.openedAt).toBeGreaterThanOrEqual(T0 + 7000);
    expectStable(p, records, events.map(key));
  });

  it('trouble codes: one alert per code, cleared when it leaves dtcs', () => {
    const codes = [[], ['P0300'], ['P0300', 'P0171'], ['P0171'], [], []];
    const p = pack({ kind: 'dtc' });
    const records = codes.map((d, i) => rec(i, { dtcs: d }));
    expectStable(p, records, [`opened:P0300:${T0 + 1000}:null:1`, `opened:P0171:${T0 + 2000}:null:1`, `cleared:P0300:${T0 + 1000}:${T0 + 3000}:1`, `cleared:P0171:${T0 + 2000}:${T0 + 4000}:1`]);
  });

  it('stuck sensor: the same value for N samples while the engine runs; engine-off samples do not count', () => {
    const p = pack({ kind: 'stuck', fields: ['coolantC'], samples: 4 });
    const values: [number, number][] = [[90.1, 1500], [90.3, 1500], [90.3, 1500], [90.3, 0], [90.3, 1500], [90.3, 1500], [90.5, 1500], [90.6, 1500]];
    const records = values.map(([c, rpm], i) => rec(i, { coolantC: c, engineRpm: rpm }));
    expectStable(p, records, [`opened:coolantC:${T0 + 5000}:null:4`, `cleared:coolantC:${T0 + 5000}:${T0 + 6000}:4`]);
  });

  it('implausible jump: a fix far from the last plausible one opens, the next plausible one clears', () => {
    const p = pack({ kind: 'jump', maxSpeedKph: 300, minDistanceKm: 1 });
    const lat = [45.76, 45.7601, 45.7602, 45.95, 45.7604, 45.7605];
    const records = lat.map((l, i) => rec(i, { position: { lat: l, lon: 4.84 } }));
    const events = run(p, records);
    expect(events.map((e) => [e.change, e.openedAt])).toEqual([['opened', T0 + 3000], ['cleared', T0 + 3000]]);
    expectStable(p, records, events.map(key));
  });

  it('absence: silent while its lane moves on (live), or a gap found when its records return (late), with the same id', () => {
    const p = pack({ kind: 'absence', after: '30s', gatewayAfter: '60s' });
    const engine = new HotEngine(p);
    const events: AlertEvent[] = [];
    // V1 reports at 0..10 s, then from 60 s; V2 keeps reporting every 5 s up to 100 s (seq counts records, ts every 5 s)
    const at = (s: number, n: number, id: string) => rec(n, { ts: T0 + s * 1000 }, id);
    let n1 = 0;
    for (let s = 0; s <= 100; s += 5) {
      if (s <= 10 || s >= 60) events.push(...engine.offer(sample(at(s, n1++, 'V1'))).events);
      events.push(...engine.offer(sample(at(s, s / 5, 'V2'))).events);
    }
    expect(events.map((e) => [e.vehicleId, e.change, e.openedAt, e.clearedAt])).toEqual([['V1', 'opened', T0 + 40_000, null], ['V1', 'cleared', T0 + 40_000, T0 + 60_000]]);
    // V1's silence arriving as a backlog later (its records of 60..100 s after V2's): found from the gap, same id, late
    const engine2 = new HotEngine(p);
    const late: AlertEvent[] = [];
    let m1 = 0;
    for (let s = 0; s <= 10; s += 5) late.push(...engine2.offer(sample(at(s, m1++, 'V1'), T0 + s * 1000, 'gw/a/0')).events);
    for (let s = 60; s <= 100; s += 5) late.push(...engine2.offer(sample(at(s, m1++, 'V1'), T0 + 200_000, 'gw/a/0')).events);
    expect(late.map((e) => [e.alertId, e.change, e.late])).toEqual([[events[0]!.alertId, 'opened', true], [events[0]!.alertId, 'cleared', true]]);
  });

  it('absence: a vehicle uploading its backlog behind the others is reporting, not silent', () => {
    const p = pack({ kind: 'absence', after: '30s', gatewayAfter: '60s' });
    const engine = new HotEngine(p);
    const events: AlertEvent[] = [];
    // V2 is live at 200..260 s; V1 uploads its 0..60 s backlog in between, a record a second, never behind by a gap
    for (let s = 0; s <= 60; s++) {
      events.push(...engine.offer(sample(rec(200 + s, {}, 'V2'))).events);
      events.push(...engine.offer(sample(rec(s, {}, 'V1'))).events);
    }
    expect(events.filter((e) => e.vehicleId === 'V1')).toEqual([]);
  });

  it('records a gateway forwarded ahead (its critical lane, after an outage) wait for its normal lane: the vehicle\'s order holds', () => {
    const p = parseRulePack({ version: 1, rules: [
      { id: 'hot', category: 'overheating', severity: 'critical', kind: 'threshold', field: 'coolantC', op: '>', value: 110, cooldown: 0 },
      { id: 'silent', category: 'silent', severity: 'warning', kind: 'absence', after: '30s' },
    ] });
    const engine = new HotEngine(p);
    const events: AlertEvent[] = [];
    const offer = (t: Telemetry, lane: string) => events.push(...engine.offer(sample(t, t.ts, lane)).events);
    for (let s = 0; s <= 10; s++) offer(rec(s, {}, 'V1'), 'gw/normal-0/0');
    // the outage's backlog: V1's trouble-code records (critical lane, 101..200 s) come first
    for (let s = 101; s <= 200; s++) offer(rec(s, { dtcs: ['P0300'], coolantC: s === 150 ? 120 : 90 }, 'V1'), 'gw/critical-0/0');
    expect(events).toEqual([]); // held: nothing evaluated past the gap yet
    // then the normal lane: V2 and V1's own records of 11..100 s
    for (let s = 11; s <= 100; s++) {
      offer(rec(s, {}, 'V2'), 'gw/normal-0/0');
      offer(rec(s, {}, 'V1'), 'gw/normal-0/0');
    }
    expect(engine.counters.tooLate).toBe(0);
    expect(events.filter((e) => e.category === 'silent')).toEqual([]);
    expect(events.map((e) => [e.vehicleId, e.rule, e.change, e.openedAt])).toEqual([['V1', 'hot', 'opened', T0 + 150_000], ['V1', 'hot', 'cleared', T0 + 150_000]]);
  });

  it('a critical record whose predecessors never come is released once the normal lane passes it', () => {
    const p = pack({ kind: 'threshold', field: 'coolantC', op: '>', value: 110 });
    const engine = new HotEngine(p);
    const events: AlertEvent[] = [];
    events.push(...engine.offer(sample(rec(0, {}, 'V1'), T0, 'gw/normal-0/0')).events);
    events.push(...engine.offer(sample(rec(50, { coolantC: 120 }, 'V1'), T0, 'gw/critical-0/0')).events);
    for (let s = 1; s <= 59; s++) events.push(...engine.offer(sample(rec(s, {}, 'V2'), T0, 'gw/normal-0/0')).events);
    expect(events).toEqual([]); // the normal lane is at 59 s: V1's 1..49 s may still come (its order may stray by the 10 s lateness)
    events.push(...engine.offer(sample(rec(60, {}, 'V2'), T0, 'gw/normal-0/0')).events);
    expect(events.map((e) => [e.vehicleId, e.change, e.openedAt])).toEqual([['V1', 'opened', T0 + 50_000]]);
  });

  it('limits per class (byClass) and per vehicle (the vehicles table) win over the rule\'s', () => {
    const p = parseRulePack({ version: 1, rules: [{ id: 'hot', category: 'overheating', severity: 'critical', kind: 'threshold', field: 'coolantC', op: '>', value: 110, cooldown: 0, byClass: { truck: { value: 115 } } }] });
    const table = new Map<string, { class: string; overrides: Record<string, number> }>([
      ['TRUCK', { class: 'truck', overrides: {} }],
      ['SPECIAL', { class: 'truck', overrides: { 'hot.value': 125 } }],
    ]);
    const engine = new HotEngine(p, { vehicleRef: (id) => table.get(id) });
    const opened = (id: string) => [112, 118, 126].filter((c, i) => engine.offer(sample(rec(i, { coolantC: c }, id))).events.some((e) => e.change === 'opened'));
    expect(opened('CAR')).toEqual([112]);
    expect(opened('TRUCK')).toEqual([118]);
    expect(opened('SPECIAL')).toEqual([126]);
  });

  it('gateway_offline: heartbeats stopped for gatewayAfter (wall time) raise one alert for the gateway, the next heartbeat clears it', () => {
    const p = pack({ kind: 'absence', after: '30s', gatewayAfter: '60s' });
    const engine = new HotEngine(p);
    const W = 1_800_000_000_000;
    expect(engine.heartbeat('gw-1', W, W)).toEqual([]);
    expect(engine.tick(W + 59_000)).toEqual([]);
    const opened = engine.tick(W + 61_000);
    expect(opened.map((e) => [e.vehicleId, e.gatewayId, e.rule, e.category, e.change, e.openedAt])).toEqual([['', 'gw-1', 'gateway_offline', 'gateway_offline', 'opened', W + 60_000]]);
    expect(engine.tick(W + 70_000)).toEqual([]); // one alert, not one per tick
    const ack = engine.command({ alertId: opened[0]!.alertId, action: 'ack', by: 'ops', at: W + 75_000 }, W + 75_000);
    expect(ack).toMatchObject({ change: 'acked', state: 'ack', rule: 'gateway_offline', subject: '' });
    const cleared = engine.heartbeat('gw-1', W + 90_000, W + 90_000);
    expect(cleared.map((e) => [e.alertId, e.change, e.clearedAt])).toEqual([[opened[0]!.alertId, 'cleared', W + 90_000]]);
    // only the gateways the caller owns are judged
    engine.heartbeat('gw-2', W, W);
    expect(engine.tick(W + 200_000, (g) => g !== 'gw-2').map((e) => e.gatewayId)).toEqual(['gw-1']);
  });

  it('a flapping signal stays one episode within the cooldown', () => {
    const p = parseRulePack({ version: 1, rules: [{ id: 'r', category: 'c', severity: 'warning', kind: 'threshold', field: 'coolantC', op: '>', value: 110, cooldown: '5s' }] });
    const coolant = [111, 109, 111, 109, 109, 109, 109, 109, 109];
    const events = run(p, coolant.map((c, i) => rec(i, { coolantC: c })));
    expect(events.map((e) => [e.change, e.openedAt, e.clearedAt])).toEqual([['opened', T0, null], ['cleared', T0, T0 + 3000]]);
  });

  it('late records carry late: true and how late; a deterministic id for the same record', () => {
    const p = pack({ kind: 'threshold', field: 'coolantC', op: '>', value: 110 });
    const t = rec(5, { coolantC: 120 });
    const live = new HotEngine(p).offer(sample(t)).events[0]!;
    const backlog = new HotEngine(p).offer({ ...sample(t), arrivedAt: t.ts + 600_000, ingestTs: t.ts }).events[0]!;
    expect(live.late).toBe(false);
    expect(backlog.late).toBe(true);
    expect(backlog.lateByMs).toBe(600_000);
    expect(backlog.alertId).toBe(live.alertId);
  });

  it('a vehicle\'s buffer uploaded after a link loss is late by its gateway\'s normal lane, also for records forwarded ahead (critical lane)', () => {
    const p = pack({ kind: 'dtc' });
    const engine = new HotEngine(p);
    for (let s = 0; s <= 60; s++) engine.offer(sample(rec(s, {}, 'V2'), T0 + s * 1000, 'gw/normal-0/0'));
    engine.offer(sample(rec(0, {}, 'V1'), T0, 'gw/normal-0/0'));
    // V1 was out of reach from 1 s; at 61 s its buffer arrives, its trouble-code records by the critical lane (no gap: seq 1 follows 0)
    const uploaded = engine.offer({ ...sample(rec(1, { dtcs: ['P0300'] }, 'V1'), T0 + 61_000, 'gw/critical-0/0'), ingestTs: T0 + 61_000 }).events;
    expect(uploaded.map((e) => [e.change, e.late, e.lateByMs])).toEqual([['opened', true, 59_000]]);
    // a live trouble code (V2, on time) is not late, whichever lane it came by
    const live = engine.offer({ ...sample(rec(61, { dtcs: ['P0420'] }, 'V2'), T0 + 61_000, 'gw/critical-0/0'), ingestTs: T0 + 61_000 }).events;
    expect(live.map((e) => [e.change, e.late])).toEqual([['opened', false]]);
  });

  it('counts duplicates and records too late to be evaluated in order', () => {
    const p = pack({ kind: 'threshold', field: 'coolantC', op: '>', value: 110 });
    const engine = new HotEngine(p);
    for (const s of [0, 1, 2, 1, ...Array.from({ length: 16 }, (_, i) => 40 + i)]) engine.offer(sample(rec(s)));
    // seq 3..39 were given up once the vehicle's device time was 10 s (the lateness) past 40: a 5 arriving now is too late
    engine.offer(sample(rec(5)));
    expect(engine.counters).toMatchObject({ duplicates: 1, tooLate: 1 });
  });
});
