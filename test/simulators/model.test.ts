import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseTelemetry, type Telemetry } from '../../shared/schema/index.js';
import { runFleet, seqRanges, truthLines } from '../../simulators/fleet.js';
import { HARSH_BRAKING_MPS2, SimVehicle, type VehicleTruth } from '../../simulators/model.js';
import { Rng } from '../../simulators/rng.js';
import { runCli } from '../support/cli.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const START = Date.parse('2026-01-05T06:00:00Z');
const base = { speedup: 1_000_000, rateHz: 1, startTs: START, idPrefix: 'SIM' };

async function dryRun(seed: number, vehicles: number, durationMs: number) {
  const dir = await mkdtemp(join(tmpdir(), 'sim-'));
  dirs.push(dir);
  const file = join(dir, 'messages.jsonl');
  const result = await runFleet({ ...base, seed, vehicles, durationMs, messagesFile: file });
  return { messages: await readFile(file, 'utf8'), truth: truthLines({ ...base, seed, vehicles, durationMs }, result.truth).join('\n'), result };
}

/** Every vehicle of a seeded fleet, stepped through `hours` of device time, with its messages. */
function* fleet(seed: number, vehicles: number, hours: number): Generator<{ truth: VehicleTruth; messages: Telemetry[] }> {
  const root = new Rng(seed);
  for (let i = 0; i < vehicles; i++) {
    const v = new SimVehicle({ index: i, vehicleId: `SIM-${i}`, seed: root.fork(i).seed, startTs: START, durationMs: hours * 3_600_000, intervalMs: 1000 });
    const messages: Telemetry[] = [];
    while (v.deviceTs < START + hours * 3_600_000) {
      const m = v.step();
      if (m !== undefined) messages.push(m);
    }
    yield { truth: v.truth(), messages };
  }
}

describe('simulator', () => {
  it('acknowledged seqs are written as inclusive ranges', () => {
    expect(seqRanges([])).toEqual([]);
    expect(seqRanges([5])).toEqual([[5, 5]]);
    expect(seqRanges([1, 2, 3, 7, 9, 10])).toEqual([[1, 3], [7, 7], [9, 10]]);
  });

  it('is deterministic: the same seed gives the same message stream and truth file; another seed does not', async () => {
    const a = await dryRun(42, 30, 30 * 60_000);
    const b = await dryRun(42, 30, 30 * 60_000);
    const c = await dryRun(43, 30, 30 * 60_000);
    expect(a.messages.length).toBeGreaterThan(0);
    expect(b.messages).toBe(a.messages);
    expect(b.truth).toBe(a.truth);
    expect(c.messages).not.toBe(a.messages);
    expect(a.result.made).toBe(a.messages.split('\n').filter((l) => l !== '').length);
  });

  it('the message stream does not depend on how fast the wall clock lets it run', async () => {
    const run = async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sim-'));
      dirs.push(dir);
      const file = join(dir, 'm.jsonl');
      await runFleet({ ...base, speedup: 3_000, seed: 11, vehicles: 10, durationMs: 10 * 60_000, messagesFile: file });
      return readFile(file, 'utf8');
    };
    expect(await run()).toBe(await run());
  });

  it('ends on time when the duration is not a whole number of intervals', async () => {
    const r = await runFleet({ ...base, rateHz: 3, seed: 1, vehicles: 2, durationMs: 10_000, drainTimeoutMs: 30_000 });
    expect(r.wallMs).toBeLessThan(5_000);
    expect(r.truth[0]!.messages + r.truth[1]!.messages).toBe(r.made);
    expect(Math.max(...r.truth.map((t) => t.messages))).toBe(30); // 333 ms steps up to 9,990 ms (a silent spell makes fewer)
  });

  it('`roadlog sim --workers 2` writes the same truth as one process, and every message once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sim-cli-'));
    dirs.push(dir);
    const common = ['sim', '--vehicles', '6', '--seed', '3', '--duration', '20m', '--speedup', '100000', '--progress', 'none'];
    const one = await runCli([...common, '--truth', join(dir, 't1'), '--messages', join(dir, 'm1')]);
    const two = await runCli([...common, '--workers', '2', '--truth', join(dir, 't2'), '--messages', join(dir, 'm2')]);
    expect(one.code, one.stderr).toBe(0);
    expect(two.code, two.stderr).toBe(0);
    expect(await readFile(join(dir, 't2'), 'utf8')).toBe(await readFile(join(dir, 't1'), 'utf8'));
    const lines = async (f: string) => (await readFile(join(dir, f), 'utf8')).split('\n').filter((l) => l !== '').sort();
    expect(await lines('m2')).toEqual(await lines('m1'));
    expect(two.stdout).toMatch(/^sim: 6 vehicles in 2 workers, \d+ messages made/);
  }, 60_000);

  it('sharding a fleet across workers makes the same vehicles', async () => {
    const whole = await runFleet({ ...base, seed: 5, vehicles: 12, durationMs: 600_000 });
    const parts = await Promise.all([0, 1, 2].map((index) => runFleet({ ...base, seed: 5, vehicles: 12, durationMs: 600_000, shard: { index, count: 3 } })));
    const merged = parts.flatMap((p) => p.truth).sort((x, y) => (x.vehicleId < y.vehicleId ? -1 : 1));
    expect(merged).toEqual(whole.truth);
  });

  const VEHICLES = 300;
  it(`physics and faults (${VEHICLES} vehicles × 4 h): valid telemetry, monotone counters, plausible L/100 km, and each fault's signature`, () => {
    const perClass: Record<string, number[]> = { car: [], van: [], truck: [] };
    const seen: Record<string, number> = {};
    const problems: string[] = [];
    for (const { truth, messages } of fleet(2026, VEHICLES, 4)) {
      const id = truth.vehicleId;
      for (let i = 0; i < messages.length; i++) {
        const m = messages[i]!;
        if (i % 997 === 0 && !parseTelemetry(JSON.stringify(m)).ok) problems.push(`${id}@${m.seq}: invalid telemetry ${parseTelemetry(JSON.stringify(m)).ok ? '' : JSON.stringify(m)}`);
        const prev = messages[i - 1];
        if (prev !== undefined && (m.fuelUsedL < prev.fuelUsedL || m.odometerKm < prev.odometerKm || m.seq !== prev.seq + 1 || m.ts <= prev.ts)) problems.push(`${id}@${m.seq}: a counter went back`);
      }
      if (truth.lPer100km !== null && truth.distanceKm > 20) perClass[truth.class]!.push(truth.lPer100km);
      // Truth agrees with the stream it came from.
      const last = messages.at(-1)!;
      if (Math.abs(last.fuelUsedL - truth.fuelL) > 0.01) problems.push(`${id}: fuel ${last.fuelUsedL} vs truth ${truth.fuelL}`);
      const episodes = messages.filter((m, i) => m.longAccelMps2 <= HARSH_BRAKING_MPS2 && !(i > 0 && messages[i - 1]!.longAccelMps2 <= HARSH_BRAKING_MPS2 && messages[i - 1]!.ts === m.ts - 1000)).length;
      if (truth.faults.every((f) => f.kind !== 'silent') && episodes !== truth.harshBrakingEvents) problems.push(`${id}: ${episodes} harsh braking episodes in the stream, truth says ${truth.harshBrakingEvents}`);
      if (truth.harshBrakingEvents > 0 && !truth.faults.some((f) => f.kind === 'harsh_braking')) problems.push(`${id}: harsh braking without a harsh_braking fault`);
      for (const f of truth.faults) {
        seen[f.kind] = (seen[f.kind] ?? 0) + 1;
        const inside = messages.filter((m) => m.ts >= f.fromTs && m.ts < f.toTs);
        const minutes = (f.toTs - f.fromTs) / 60_000;
        const fail = (what: string) => problems.push(`${id} ${f.kind} ${new Date(f.fromTs).toISOString()}..${new Date(f.toTs).toISOString()}: ${what}`);
        switch (f.kind) {
          case 'overheating':
            if (minutes >= 5 && !inside.some((m) => m.coolantC >= 110)) fail(`coolant peaked at ${Math.max(...inside.map((m) => m.coolantC))}`);
            break;
          case 'oil_leak':
            if (minutes >= 20 && !(inside.at(-1)!.oilLevelPct < inside[0]!.oilLevelPct - 10)) fail('oil level did not fall');
            break;
          case 'low_battery':
            if (minutes >= 20 && !(inside.at(-1)!.batteryV < 11.8)) fail(`battery ends at ${inside.at(-1)!.batteryV} V`);
            break;
          case 'harsh_braking':
            if (!inside.some((m) => m.longAccelMps2 <= HARSH_BRAKING_MPS2) && inside.some((m) => m.speedKph > 40)) fail('no harsh braking while driving');
            break;
          case 'dtc':
            if (inside.length === 0 || !inside.every((m) => m.dtcs.includes(f.detail!))) fail(`not every message carries ${f.detail}`);
            break;
          case 'stuck_sensor': {
            const field = f.detail as 'coolantC' | 'oilPressureKpa' | 'fuelLevelPct';
            if (new Set(inside.map((m) => m[field])).size !== 1) fail(`${field} moved`);
            break;
          }
          case 'gps_jump': {
            const i = messages.findIndex((m) => m.ts >= f.fromTs);
            const a = messages[i - 1]?.position;
            const b = messages[i]?.position;
            if (a === undefined || b === undefined || Math.hypot(b.lat - a.lat, b.lon - a.lon) * 111 < 2) fail('no jump');
            break;
          }
          case 'silent':
            if (inside.length > 0) fail(`${inside.length} messages while silent`);
            break;
        }
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.log(
      `simulator: L/100 km median car ${median(perClass.car!)}, van ${median(perClass.van!)}, truck ${median(perClass.truck!)}; faults ${JSON.stringify(seen)}`,
    );
    expect(problems.slice(0, 20)).toEqual([]);
    for (const x of perClass.car!) expect(x).toBeGreaterThan(4), expect(x).toBeLessThan(12);
    for (const x of perClass.van!) expect(x).toBeGreaterThan(7), expect(x).toBeLessThan(17);
    for (const x of perClass.truck!) expect(x).toBeGreaterThan(18), expect(x).toBeLessThan(45);
    for (const kind of ['overheating', 'oil_leak', 'low_battery', 'harsh_braking', 'dtc', 'stuck_sensor', 'gps_jump', 'silent']) expect(seen[kind], kind).toBeGreaterThan(0);
  }, 60_000);
});
