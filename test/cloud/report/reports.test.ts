import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatReport } from '../../../cloud/report/format.js';
import { renderHtml } from '../../../cloud/report/html.js';
import type { GroupBy, Report, ReportDef } from '../../../cloud/report/model.js';
import { REPORTS, runReport } from '../../../cloud/report/run.js';
import { exampleTelemetry, type Telemetry } from '../../../shared/schema/index.js';
import type { VehicleRef } from '../../../shared/vehicles/index.js';
import { archiveFromMessages } from '../../support/archive.js';
import { runCli } from '../../support/cli.js';

/**
 * Every report over a small archive whose every anomaly was put there on purpose, each
 * expectation computed from the generated samples (not from the SQL): the fuel report's rules
 * (a counter reset, two outliers, a stuck odometer, a stuck fuel counter, a stuck tank level, a
 * refuel), idle spans, harsh braking runs, a seq gap, late records, trouble codes and an
 * overheating engine, across midnight so `--group-by day` has two days.
 */
const T0 = Date.parse('2026-03-01T23:30:00Z');
const vehicles = new Map<string, VehicleRef>([
  ['V1', { vehicleId: 'V1', class: 'car', depot: 'north', overrides: {} }],
  ['V2', { vehicleId: 'V2', class: 'truck', depot: 'south', overrides: {} }],
]);
let dir: string;
let archive: string;
let csv: string;
const samples: Telemetry[] = [];
/** Per V1 step (by its ts): whether the fuel report must count it (not excluded by a rule). */
const fuelCounts = new Map<number, boolean>();

interface Gen {
  ts: number;
  seq: number;
  odo: number;
  fuel: number;
  level: number;
}

/** V1: the anomalies, phase by phase. V2: a steady truck with a trouble code and an overheating spell. */
function generate(): void {
  const g: Gen = { ts: T0, seq: 1000, odo: 100, fuel: 50, level: 60 };
  let shownOdo: number | undefined;
  let shownFuel: number | undefined;
  let shownLevel: number | undefined;
  let odoOffset = 0;
  const emit = (o: { speed: number; rpm: number; accel?: number; dKm: number; dL: number; counted?: boolean; gap?: number }) => {
    const gap = o.gap ?? 1;
    g.ts += 1000 * gap;
    g.seq += gap;
    g.odo += o.dKm;
    g.fuel += o.dL;
    g.level -= 0.01;
    samples.push(exampleTelemetry({ vehicleId: 'V1', seq: g.seq, ts: g.ts, speedKph: o.speed, engineRpm: o.rpm, longAccelMps2: o.accel ?? 0, odometerKm: shownOdo ?? g.odo - odoOffset, fuelUsedL: shownFuel ?? g.fuel, fuelLevelPct: shownLevel ?? g.level, dtcs: [] }));
    fuelCounts.set(g.ts, o.counted ?? true);
  };
  const drive = (n: number, extra: (i: number) => Partial<Parameters<typeof emit>[0]> = () => ({})) => {
    for (let i = 0; i < n; i++) emit({ speed: 36, rpm: 2000, dKm: 0.01, dL: 0.001, ...extra(i) });
  };
  const idle = (n: number) => {
    for (let i = 0; i < n; i++) emit({ speed: 0, rpm: 800, dKm: 0, dL: 0.0002 });
  };
  samples.push(exampleTelemetry({ vehicleId: 'V1', seq: g.seq, ts: g.ts, speedKph: 0, engineRpm: 800, longAccelMps2: 0, odometerKm: g.odo, fuelUsedL: g.fuel, fuelLevelPct: g.level, dtcs: [] }));
  drive(300);
  idle(300); // one idle span of 300 s: listed
  drive(60, (i) => ({ accel: i >= 10 && i <= 12 ? -5 : i === 20 ? -4.5 : 0 })); // two harsh braking events, 4 samples
  idle(60); // a short idle span: counted, not listed
  drive(180, (i) => {
    if (i === 10) shownOdo = g.odo; // the odometer sticks for 60 samples while driving...
    if (i === 70) shownOdo = undefined; // ...and catches up (an outlier step)
    return { counted: !(i >= 10 && i <= 70) };
  });
  drive(100, (i) => {
    if (i === 0) shownFuel = g.fuel; // the fuel counter sticks for 80 samples...
    if (i === 80) shownFuel = undefined;
    return { counted: !(i <= 80) };
  });
  drive(200, (i) => {
    if (i === 0) shownLevel = g.level; // the tank level sticks for 150 samples: flagged, nothing left out
    if (i === 150) shownLevel = undefined;
    return {};
  });
  g.level += 40; // a refuel
  drive(100);
  odoOffset = g.odo + 0.01; // the odometer resets to 0 at the next sample
  drive(100, (i) => ({ counted: i !== 0 }));
  drive(1, () => ({ gap: 6, dKm: 0.06, dL: 0.006 })); // 5 seqs never arrived
  drive(2400 - samples.length + 1);
  for (let i = 0; i < 2400; i++) {
    const ts = T0 + 1000 * (i + 1);
    samples.push(exampleTelemetry({ vehicleId: 'V2', seq: i, ts, speedKph: 70, engineRpm: 1500, longAccelMps2: 0, odometerKm: 5000 + 0.02 * i, fuelUsedL: 900 + 0.008 * i, fuelLevelPct: 80 - 0.003 * i, coolantC: i >= 1000 && i < 1050 ? 115 : 90, dtcs: i >= 500 && i < 600 ? ['P0420'] : [] }));
  }
}

const byId = (r: Report, id: string) => r.rows.find((x) => x.vehicleId === id)!;
const run = (def: ReportDef, groupBy: GroupBy = 'vehicle', vehicle?: string) => runReport(def, { archive, query: { from: 0, to: Number.MAX_SAFE_INTEGER, ...(vehicle === undefined ? {} : { vehicle }) }, groupBy, vehicles, kafka: async () => undefined });
const report = (name: string) => REPORTS.find((r) => r.name === name)!;
const v1 = () => samples.filter((s) => s.vehicleId === 'V1');
const steps = (xs: Telemetry[]) => xs.slice(1).map((t, i) => ({ t, p: xs[i]!, dt: (t.ts - xs[i]!.ts) / 1000, dKm: t.odometerKm - xs[i]!.odometerKm, dL: t.fuelUsedL - xs[i]!.fuelUsedL }));

beforeAll(async () => {
  generate();
  dir = await mkdtemp(join(tmpdir(), 'roadlog-reports-'));
  archive = join(dir, 'archive');
  const messages = join(dir, 'm.jsonl');
  await writeFile(messages, samples.map((s) => JSON.stringify(s)).join('\n') + '\n');
  csv = join(dir, 'vehicles.csv');
  await writeFile(csv, 'vehicleId,class,depot\nV1,car,north\nV2,truck,south\n');
  await archiveFromMessages(messages, archive, { topic: 't.telemetry.v1', kafkaDelaySql: 'CASE WHEN seq % 100 = 0 THEN 60000 ELSE 100 END' });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('reports over an archive with planted anomalies', () => {
  it('fuel: each rule finds exactly what was planted, and L/100 km counts only the rest', async () => {
    const r = await run(report('fuel'));
    const row = byId(r, 'V1');
    const counted = steps(v1()).filter((s) => fuelCounts.get(s.t.ts));
    const km = counted.reduce((n, s) => n + s.dKm, 0);
    const l = counted.reduce((n, s) => n + s.dL, 0);
    expect(row).toMatchObject({ class: 'car', depot: 'north', counterResets: 1, outliers: 2, stuckSpans: 3, refuels: 1, excludedSteps: steps(v1()).length - counted.length, samples: v1().length });
    expect(row.distanceKm).toBeCloseTo(km, 3);
    expect(row.fuelL).toBeCloseTo(l, 3);
    expect(row.lPer100km).toBeCloseTo((100 * l) / km, 2);
    expect(row.idleFuelL).toBeCloseTo(360 * 0.0002, 3);
    const kinds = r.details[0]!.rows.filter((s) => s.vehicleId === 'V1').map((s) => s.kind).sort();
    expect(kinds).toEqual(['counter_reset', 'fuel_counter_stuck', 'fuel_level_stuck', 'odometer_stuck', 'outlier', 'outlier', 'refuel']);
    const stuck = r.details[0]!.rows.find((s) => s.kind === 'odometer_stuck')!;
    expect(stuck.steps).toBe(60);
    expect(byId(r, 'V2')).toMatchObject({ counterResets: 0, outliers: 0, stuckSpans: 0, refuels: 0, excludedSteps: 0 });
  });

  it('fleet: per-counter rules only (no stuck spans), the same idle and harsh figures as the idle and harsh reports', async () => {
    const [fleet, idle, harsh] = [await run(report('fleet')), await run(report('idle')), await run(report('harsh'))];
    const ok = steps(v1());
    const km = ok.filter((s) => s.dKm >= 0 && s.dKm <= s.dt * (250 / 3600) + 0.01).reduce((n, s) => n + s.dKm, 0);
    expect(byId(fleet, 'V1').distanceKm).toBeCloseTo(km, 3);
    expect(byId(fleet, 'V1')).toMatchObject({ idleSeconds: 360, harshBrakingEvents: 2, counterResets: 1, outliers: 2 });
    expect(byId(idle, 'V1')).toMatchObject({ idleSeconds: 360, longIdleSpans: 1, longIdleSeconds: 300, longestIdleSeconds: 300, engineOnSeconds: (v1().at(-1)!.ts - v1()[0]!.ts) / 1000 });
    expect(idle.details[0]!.rows).toEqual([expect.objectContaining({ vehicleId: 'V1', seconds: 300 })]);
    expect(byId(harsh, 'V1')).toMatchObject({ harshBrakingEvents: 2, harshSamples: 4, hardestMps2: -5 });
    expect(harsh.details[0]!.rows.map((e) => [e.samples, e.peakMps2, e.speedBeforeKph])).toEqual([[3, -5, 36], [1, -4.5, 36]]);
    expect(byId(harsh, 'V2')).toMatchObject({ harshBrakingEvents: 0, harshPer100km: 0 });
  });

  it('health and quality: trouble codes, time over the limit, seq gaps, late records; Kafka missing is said, not hidden', async () => {
    const health = await run(report('health'));
    expect(byId(health, 'V2')).toMatchObject({ dtcCodes: 'P0420', dtcSamples: 100, coolantMaxC: 115, coolantHotSeconds: 50, alerts: 0 });
    expect(byId(health, 'V1')).toMatchObject({ dtcCodes: '', dtcSamples: 0 });
    expect(health.notes.join(' ')).toMatch(/alert events topic could not be read/);
    const quality = await run(report('quality'));
    const late = (id: string) => samples.filter((s) => s.vehicleId === id && s.seq % 100 === 0).length;
    expect(byId(quality, 'V1')).toMatchObject({ seqGaps: 1, missingSeqs: 5, seqRestarts: 0, lateRecords: late('V1'), maxLateSeconds: 60 });
    expect(byId(quality, 'V1').completenessPct).toBeCloseTo((100 * v1().length) / (v1().length + 5), 2);
    expect(byId(quality, 'V2')).toMatchObject({ seqGaps: 0, missingSeqs: 0, lateRecords: late('V2'), completenessPct: 100 });
    expect(quality.notes.join(' ')).toMatch(/dead-letter topic could not be read/);
    // The lists that come from Kafka are there, empty, when it could not be read: --details never fails on them.
    expect(JSON.parse(formatReport(health, 'json', 'alerts'))).toEqual([]);
    expect(formatReport(quality, 'csv', 'deadLetters')).toBe('reason,code,records,vehicles,example\n');
    expect(() => formatReport(health, 'json', 'spans')).toThrow(/--details spans: report health has alerts/);
  });

  it('the CLI: a time it cannot read is a usage error naming the flag; a year alone is a year, not milliseconds', async () => {
    const bad = await runCli(['report', 'fleet', '--archive', archive, '--from', '99999999999999999'], { env: { ROADLOG_KAFKA_BROKERS: '127.0.0.1:1' } });
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringMatching(/ROADLOG_ERR_USAGE --from: expected an ISO 8601 time/)]);
    const year = await runCli(['report', 'fleet', '--archive', archive, '--from', '2026', '--to', '2026-03-02', '--format', 'json', '--vehicles-csv', csv], { env: { ROADLOG_KAFKA_BROKERS: '127.0.0.1:1' } });
    expect(year.code, year.stderr).toBe(0);
    expect((JSON.parse(year.stdout) as { samples: number }[]).reduce((n, r) => n + r.samples, 0)).toBe(samples.filter((x) => x.ts < Date.parse('2026-03-02T00:00:00Z')).length);
  });

  it('--group-by day, class, depot: the same sums split another way; ratios of the sums', async () => {
    const byVehicle = await run(report('fleet'));
    const total = (r: Report, k: string) => r.rows.reduce((n, x) => n + Number(x[k]), 0);
    for (const by of ['day', 'class', 'depot'] as const) {
      const g = await run(report('fleet'), by);
      expect(g.columns.slice(0, 2)).toEqual([by, 'vehicles']);
      expect(total(g, 'samples')).toBe(samples.length);
      expect(total(g, 'distanceKm')).toBeCloseTo(total(byVehicle, 'distanceKm'), 2);
      expect(total(g, 'idleSeconds')).toBeCloseTo(360, 5);
    }
    const days = await run(report('fleet'), 'day');
    expect(days.rows.map((r) => [r.day, r.vehicles])).toEqual([['2026-03-01', 2], ['2026-03-02', 2]]);
    expect(days.rows[0]!.samples).toBe(samples.filter((s) => s.ts < Date.parse('2026-03-02T00:00:00Z')).length);
    const classes = await run(report('fleet'), 'class');
    const truck = classes.rows.find((r) => r.class === 'truck')!;
    expect(truck.lPer100km).toBeCloseTo((100 * Number(truck.fuelL)) / Number(truck.distanceKm), 1);
    const one = await run(report('fleet'), 'vehicle', 'V2');
    expect(one.rows.map((r) => r.vehicleId)).toEqual(['V2']);
  });

  it('formats: csv and json rows, --details lists, a table with the lists under it, one self-contained html file', async () => {
    const fuel = await run(report('fuel'));
    const csv = formatReport(fuel, 'csv').trim().split('\n');
    expect(csv[0]).toBe(fuel.columns.join(','));
    expect(csv).toHaveLength(3);
    expect(JSON.parse(formatReport(fuel, 'json', 'spans'))).toHaveLength(fuel.details[0]!.rows.length);
    const table = formatReport(fuel, 'table');
    expect(table).toMatch(/^V1\s+car\s+north\s/m);
    expect(table).toMatch(/Excluded and flagged spans: 7/);
    const html = await renderHtml(fuel, Date.parse('2026-03-03T00:00:00Z'));
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect((html.match(/<svg /g) ?? []).length).toBe(report('fuel').charts.length);
    expect(html).not.toMatch(/<script|<link|<img|\ssrc=|\shref=|@import|url\(/i);
    expect(html).toContain('odometer_stuck');
    const days = await renderHtml(await run(report('health'), 'day'));
    expect(days).toMatch(/2026-03-02/);
  });
});
