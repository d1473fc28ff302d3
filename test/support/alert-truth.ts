import type { AlertEvent } from '../../shared/alerts/index.js';
import type { Telemetry } from '../../shared/schema/index.js';
import { HotEngine } from '../../cloud/hot/engine/engine.js';
import { loadRulePack } from '../../cloud/hot/rules/load.js';
import { SimVehicle, type FaultInterval, type LinkLoss } from '../../simulators/model.js';
import { Rng } from '../../simulators/rng.js';

/**
 * Alerts against the simulator's truth: every fault the telemetry can show has an alert of its
 * category for that vehicle opened within the fault's interval (recall), and every alert opened
 * falls within a fault interval of its category (precision). A vehicle's link loss counts as
 * `silent` for precision (no records arrived, which is what the pipeline can see), never for
 * recall.
 *
 * "Can show": the fault's signature is in the vehicle's own records (a harsh brake happened,
 * the stuck field repeated for 60 samples with the engine running, ...): a fault spent parked,
 * or shorter than a rule's minimum duration, cannot be seen by any rule and is listed apart.
 */
export interface VehicleTruthInput {
  vehicleId: string;
  faults: FaultInterval[];
  linkLosses: LinkLoss[];
  messages: Telemetry[];
}

export interface TruthScore {
  faults: number;
  observable: number;
  found: number;
  alerts: number;
  correct: number;
  misses: { vehicleId: string; kind: string; fromTs: number; toTs: number }[];
  falseAlerts: { vehicleId: string; category: string; rule: string; openedAt: number; message: string }[];
  byCategory: Record<string, { observable: number; found: number; alerts: number; correct: number }>;
}

export function scoreAlerts(vehicles: readonly VehicleTruthInput[], events: readonly AlertEvent[]): TruthScore {
  const opened = events.filter((e) => e.change === 'opened' && e.vehicleId !== '');
  const byVehicle = new Map<string, AlertEvent[]>();
  for (const e of opened) (byVehicle.get(e.vehicleId) ?? byVehicle.set(e.vehicleId, []).get(e.vehicleId)!).push(e);
  const score: TruthScore = { faults: 0, observable: 0, found: 0, alerts: opened.length, correct: 0, misses: [], falseAlerts: [], byCategory: {} };
  const cat = (c: string) => (score.byCategory[c] ??= { observable: 0, found: 0, alerts: 0, correct: 0 });
  for (const v of vehicles) {
    const alerts = byVehicle.get(v.vehicleId) ?? [];
    for (const f of v.faults) {
      score.faults++;
      if (!observable(f, v.messages)) continue;
      score.observable++;
      cat(f.kind).observable++;
      if (alerts.some((a) => a.category === f.kind && a.openedAt >= f.fromTs && a.openedAt <= f.toTs)) {
        score.found++;
        cat(f.kind).found++;
      } else score.misses.push({ vehicleId: v.vehicleId, kind: f.kind, fromTs: f.fromTs, toTs: f.toTs });
    }
    for (const a of alerts) {
      cat(a.category).alerts++;
      const intervals: { fromTs: number; toTs: number }[] = v.faults.filter((f) => f.kind === a.category);
      if (a.category === 'silent') intervals.push(...v.linkLosses);
      if (intervals.some((i) => a.openedAt >= i.fromTs && a.openedAt <= i.toTs)) {
        score.correct++;
        cat(a.category).correct++;
      } else score.falseAlerts.push({ vehicleId: v.vehicleId, category: a.category, rule: a.rule, openedAt: a.openedAt, message: a.message });
    }
  }
  return score;
}

const MINUTE = 60_000;

/** Whether a fault shows in the vehicle's records at all (see scoreAlerts). */
export function observable(f: FaultInterval, messages: readonly Telemetry[]): boolean {
  const inside = messages.filter((m) => m.ts >= f.fromTs && m.ts <= f.toTs);
  switch (f.kind) {
    case 'overheating':
      return inside.some((m) => m.coolantC > 110);
    case 'oil_leak':
      return inside.length > 0 && inside.at(-1)!.ts - inside[0]!.ts >= 6 * MINUTE;
    case 'low_battery': {
      const low = inside.filter((m) => m.batteryV < 11.8);
      return low.length > 0 && low.at(-1)!.ts - low[0]!.ts >= 2 * MINUTE;
    }
    case 'harsh_braking':
      return inside.some((m) => m.longAccelMps2 <= -4);
    case 'dtc':
      return inside.some((m) => m.dtcs.length > 0);
    case 'stuck_sensor':
      return inside.filter((m) => m.engineRpm > 0).length >= 60;
    case 'gps_jump':
      return inside.length > 0;
    case 'silent':
      return f.toTs - f.fromTs > MINUTE && messages.some((m) => m.ts >= f.toTs);
  }
}

const START = Date.parse('2026-01-05T06:00:00Z');

/** A seeded fleet stepped in lock-step (every vehicle takes a step before any takes the next), as `roadlog sim` makes it, through the engine with the default rule pack. */
export function runFleetThroughEngine(seed: number, vehicles: number, hours: number): { inputs: VehicleTruthInput[]; events: AlertEvent[]; engine: HotEngine } {
  const root = new Rng(seed);
  const durationMs = hours * 3_600_000;
  const sims = Array.from({ length: vehicles }, (_, i) => new SimVehicle({ index: i, vehicleId: `SIM-${String(i).padStart(5, '0')}`, seed: root.fork(i).seed, startTs: START, durationMs, intervalMs: 1000 }));
  const messages = sims.map(() => [] as Telemetry[]);
  const engine = new HotEngine(loadRulePack());
  const events: AlertEvent[] = [];
  for (let ts = START + 1000; ts <= START + durationMs; ts += 1000) {
    sims.forEach((v, i) => {
      const t = v.step();
      if (t === undefined) return;
      messages[i]!.push(t);
      events.push(...engine.offer({ t, gatewayId: 'gw-1', lane: `gw-1/0/${i % 12}`, partition: i % 12, arrivedAt: ts, ingestTs: ts }).events);
    });
  }
  events.push(...engine.flush());
  const inputs = sims.map((v, i) => {
    const truth = v.truth();
    return { vehicleId: truth.vehicleId, faults: truth.faults, linkLosses: truth.linkLosses, messages: messages[i]! };
  });
  return { inputs, events, engine };
}

