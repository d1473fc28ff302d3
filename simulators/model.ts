import type { Telemetry } from '../shared/schema/index.js';
import { Rng } from './rng.js';

/**
 * One simulated vehicle: simple, plausible physics stepped in device time, deterministic for
 * its seed. Everything it does that tests check against (distance, fuel, idle time, harsh
 * braking, fault intervals) is also written down as truth, computed from the same state the
 * telemetry is taken from, so a test never needs to read this code to know what happened.
 *
 *   power  P = m·a·v + m·g·Crr·v + ½·ρ·CdA·v³          (W; no fuel on overrun)
 *   fuel   dF/dt = idle L/h + max(P, 0) / (η · 34.2 MJ/L)
 *   coolant warms toward 90 °C with load, cools toward ambient with the engine off
 *   oil pressure follows rpm; oil level falls slowly (fast with a leak)
 */
export type VehicleClassName = 'car' | 'van' | 'truck';

export interface VehicleClass {
  name: VehicleClassName;
  massKg: number;
  tankL: number;
  idleLph: number;
  /** Engine efficiency (tank to wheel). */
  efficiency: number;
  cdA: number;
  crr: number;
  maxAccel: number;
  maxHighwayKph: number;
  idleRpm: number;
  /** rpm per km/h in each gear, first to top. */
  gears: readonly number[];
  minRpm: number;
}

export const CLASSES: Readonly<Record<VehicleClassName, VehicleClass>> = Object.freeze({
  car: { name: 'car', massKg: 1400, tankL: 50, idleLph: 0.8, efficiency: 0.28, cdA: 0.65, crr: 0.011, maxAccel: 2.5, maxHighwayKph: 125, idleRpm: 800, gears: [125, 70, 47, 35, 28, 23], minRpm: 1300 },
  van: { name: 'van', massKg: 2400, tankL: 75, idleLph: 1.1, efficiency: 0.3, cdA: 1.15, crr: 0.012, maxAccel: 1.8, maxHighwayKph: 110, idleRpm: 800, gears: [130, 75, 50, 37, 29, 24], minRpm: 1300 },
  truck: { name: 'truck', massKg: 14000, tankL: 300, idleLph: 2.4, efficiency: 0.36, cdA: 5.6, crr: 0.0065, maxAccel: 0.9, maxHighwayKph: 85, idleRpm: 600, gears: [160, 110, 80, 60, 45, 35, 28, 22, 18, 15], minRpm: 1000 },
});

export type FaultKind = 'overheating' | 'oil_leak' | 'low_battery' | 'harsh_braking' | 'dtc' | 'stuck_sensor' | 'gps_jump' | 'silent';

export interface FaultInterval {
  kind: FaultKind;
  fromTs: number;
  toTs: number;
  /** dtc: the code; stuck_sensor: the field; gps_jump: the offset in km. */
  detail?: string;
}

export interface LinkLoss {
  fromTs: number;
  toTs: number;
  /** After reconnecting, the vehicle sends its last few messages from before the loss again. */
  resend: boolean;
}

const G = 9.81;
const RHO = 1.2;
const FUEL_J_PER_L = 34.2e6;
const AMBIENT_C = 12;
export const HARSH_BRAKING_MPS2 = -4;
const SEQ_EPOCH = Date.UTC(2020, 0, 1);

type Phase = { kind: 'drive'; profile: 'urban' | 'highway'; until: number } | { kind: 'stop' | 'idle' | 'parked'; until: number };

export interface VehicleTruth {
  vehicleId: string;
  class: VehicleClassName;
  distanceKm: number;
  fuelL: number;
  lPer100km: number | null;
  idleSeconds: number;
  harshBrakingEvents: number;
  faults: FaultInterval[];
  linkLosses: LinkLoss[];
  /** Messages made; and those a silent period suppressed (never made). */
  messages: number;
}

export interface VehicleSpec {
  index: number;
  vehicleId: string;
  seed: number;
  startTs: number;
  durationMs: number;
  intervalMs: number;
}

/** A simulated vehicle. `step()` advances one publish interval of device time and returns its telemetry, or undefined while the vehicle is silent. */
export class SimVehicle {
  readonly cls: VehicleClass;
  readonly faults: FaultInterval[] = [];
  readonly linkLosses: LinkLoss[] = [];
  private readonly rng: Rng;
  private ts: number;
  /**
   * Counts intervals since 2020-01-01 at the start, so a later run of the same vehicles (a later
   * `--start`) continues above the seqs an edge agent has already seen, as a real device's
   * counter would, instead of being taken for retries of them.
   */
  private seq: number;
  private speed = 0; // m/s
  private accel = 0;
  private rpm = 0;
  private coolant: number;
  private oilLevel: number;
  private battery: number;
  private fuelUsed = 0;
  private fuelInTank: number;
  private odometerKm: number;
  private distanceKm = 0;
  private idleSeconds = 0;
  private harsh = 0;
  private inHarsh = false;
  private lat: number;
  private lon: number;
  private heading: number;
  private phase: Phase;
  private toNextStopM = 0;
  /** End of the current trip segment (an urban segment outlives its red-light stops). */
  private segmentEnd = 0;
  private readonly style: number;
  private targetKph = 0;
  private stuck: Partial<Record<'coolantC' | 'oilPressureKpa' | 'fuelLevelPct', number>> = {};
  private messages = 0;
  /** Sensor noise on the fields a sensor can get stuck on: a working sensor never repeats itself for long (a fork: the drive does not change). */
  private readonly noise: Rng;

  constructor(readonly spec: VehicleSpec) {
    this.rng = new Rng(spec.seed);
    this.noise = this.rng.fork('sensor-noise');
    this.seq = Math.max(0, Math.floor((spec.startTs - SEQ_EPOCH) / spec.intervalMs));
    const classRoll = this.rng.next();
    this.cls = CLASSES[classRoll < 0.6 ? 'car' : classRoll < 0.85 ? 'van' : 'truck'];
    this.style = this.rng.range(0.75, 1.3);
    this.ts = spec.startTs;
    this.coolant = AMBIENT_C + this.rng.range(0, 5);
    this.oilLevel = this.rng.range(75, 100);
    this.battery = this.rng.range(12.4, 12.7);
    this.fuelInTank = this.cls.tankL * this.rng.range(0.3, 0.95);
    this.odometerKm = Math.round(this.rng.range(5_000, 250_000));
    this.lat = 45.76 + this.rng.range(-0.3, 0.3);
    this.lon = 4.84 + this.rng.range(-0.4, 0.4);
    this.heading = this.rng.range(0, 2 * Math.PI);
    this.phase = { kind: 'parked', until: spec.startTs + this.rng.range(0, 60_000) };
    this.segmentEnd = this.phase.until;
    this.planFaults();
  }

  /** Faults and link losses over the run, drawn from the vehicle's seed. */
  private planFaults(): void {
    const { startTs, durationMs } = this.spec;
    const r = this.rng.fork('faults');
    const at = (minFrac: number) => startTs + Math.floor(r.range(minFrac, 0.8) * durationMs);
    const len = (min: number, max: number) => Math.floor(r.range(min, max) * durationMs);
    const add = (kind: FaultKind, from: number, to: number, detail?: string) => this.faults.push({ kind, fromTs: from, toTs: Math.min(to, startTs + durationMs), ...(detail === undefined ? {} : { detail }) });
    if (r.chance(0.06)) add('overheating', at(0.2), 0);
    if (r.chance(0.05)) add('oil_leak', at(0.1), startTs + durationMs);
    if (r.chance(0.05)) add('low_battery', at(0.1), startTs + durationMs);
    if (r.chance(0.1)) {
      const from = at(0.1);
      add('harsh_braking', from, from + Math.max(60_000, len(0.05, 0.15)));
    }
    if (r.chance(0.08)) {
      const from = at(0.05);
      add('dtc', from, from + len(0.1, 0.4), r.pick(['P0300', 'P0171', 'P0420', 'P0128', 'U0100', 'C0035', 'B1000']));
    }
    if (r.chance(0.04)) {
      const from = at(0.1);
      add('stuck_sensor', from, from + len(0.1, 0.3), r.pick(['coolantC', 'oilPressureKpa', 'fuelLevelPct']));
    }
    if (r.chance(0.04)) {
      const from = at(0.1);
      add('gps_jump', from, from + this.spec.intervalMs, r.range(3, 30).toFixed(1));
    }
    if (r.chance(0.03)) {
      const from = at(0.2);
      add('silent', from, from + Math.max(120_000, len(0.05, 0.2)));
    }
    // Overheating lasts until the end of the run (or a fixed span), after a warm-up.
    for (const f of this.faults) if (f.kind === 'overheating') f.toTs = Math.min(startTs + durationMs, f.fromTs + Math.max(300_000, len(0.2, 0.5)));
    const losses = r.chance(0.15) ? r.int(1, 2) : 0;
    for (let i = 0; i < losses; i++) {
      const from = at(0.05);
      this.linkLosses.push({ fromTs: from, toTs: Math.min(startTs + durationMs, from + Math.floor(r.range(20_000, 180_000))), resend: r.chance(0.5) });
    }
    this.faults.sort((a, b) => a.fromTs - b.fromTs);
    this.linkLosses.sort((a, b) => a.fromTs - b.fromTs);
  }

  private active(kind: FaultKind, ts = this.ts): FaultInterval | undefined {
    return this.faults.find((f) => f.kind === kind && ts >= f.fromTs && ts < f.toTs);
  }

  get deviceTs(): number {
    return this.ts;
  }

  get engineOn(): boolean {
    return this.phase.kind !== 'parked';
  }

  /** Advances one interval; the telemetry for its end, or undefined while silent. */
  step(): Telemetry | undefined {
    const dt = this.spec.intervalMs / 1000;
    this.ts += this.spec.intervalMs;
    this.advancePhase();
    this.drive(dt);
    this.thermal(dt);
    const silent = this.active('silent') !== undefined;
    if (silent) return undefined;
    this.messages++;
    return this.telemetry();
  }

  /** Trips: urban driving with red lights, highway stretches, idling, parking; each segment drawn from the seed. */
  private advancePhase(): void {
    if (this.ts < this.phase.until) return;
    const r = this.rng;
    if (this.phase.kind === 'stop' && this.ts < this.segmentEnd) {
      this.phase = { kind: 'drive', profile: 'urban', until: this.segmentEnd };
      return;
    }
    const roll = r.next();
    if (this.phase.kind === 'parked' || roll < 0.45) {
      this.phase = { kind: 'drive', profile: 'urban', until: this.ts + r.range(3, 15) * 60_000 };
      this.targetKph = r.range(30, 50);
      this.toNextStopM = r.range(200, 700);
    } else if (roll < 0.75) {
      this.phase = { kind: 'drive', profile: 'highway', until: this.ts + r.range(5, 25) * 60_000 };
      this.targetKph = Math.min(this.cls.maxHighwayKph, r.range(85, 125));
    } else if (roll < 0.9 || this.speed > 0.5 || this.active('overheating') !== undefined || this.active('oil_leak') !== undefined) {
      // (an overheating or leaking engine keeps running, so the fault shows in the telemetry)
      this.phase = { kind: 'idle', until: this.ts + r.range(30, 300) * 1000 };
    } else {
      this.phase = { kind: 'parked', until: this.ts + r.range(2, 20) * 60_000 };
    }
    this.segmentEnd = this.phase.until;
    if (this.fuelInTank < this.cls.tankL * 0.1) this.fuelInTank = this.cls.tankL * 0.95; // refuelled on the way
  }

  private drive(dt: number): void {
    const cls = this.cls;
    const before = this.speed;
    let target = 0;
    if (this.phase.kind === 'drive') {
      target = (this.targetKph / 3.6) * (1 + 0.05 * Math.sin(this.ts / 20_000 + this.spec.index));
      if (this.phase.profile === 'urban') {
        const brakeDist = (this.speed * this.speed) / (2 * 2.5);
        if (this.toNextStopM <= brakeDist + this.speed * dt) target = 0;
      }
    }
    const harsh = this.active('harsh_braking');
    let accel: number;
    if (harsh !== undefined && this.speed > 8 && this.rng.chance(0.08)) {
      accel = -this.rng.range(5, 7.5); // an emergency stop
    } else if (target > this.speed) {
      accel = Math.min(cls.maxAccel * this.style * (1 - this.speed / (target + 1) / 2), (target - this.speed) / dt);
    } else {
      accel = Math.max(-2.5 * Math.min(this.style, 1.2), (target - this.speed) / dt);
    }
    this.speed = Math.max(0, this.speed + accel * dt);
    this.accel = (this.speed - before) / dt;
    const meters = ((before + this.speed) / 2) * dt;
    this.toNextStopM -= meters;
    if (this.phase.kind === 'drive' && this.phase.profile === 'urban' && this.toNextStopM <= 0 && this.speed < 0.5) {
      this.speed = 0;
      this.phase = { kind: 'stop', until: this.ts + this.rng.range(8_000, 45_000) };
      this.toNextStopM = this.rng.range(200, 700);
    }
    this.distanceKm += meters / 1000;
    this.odometerKm += meters / 1000;
    // Position: along the heading, turning now and then.
    if (this.rng.chance(0.02)) this.heading += this.rng.range(-1.2, 1.2);
    this.lat += (meters * Math.cos(this.heading)) / 111_320;
    this.lon += (meters * Math.sin(this.heading)) / (111_320 * Math.cos((this.lat * Math.PI) / 180));
    if (Math.abs(this.lat - 45.76) > 1.5 || Math.abs(this.lon - 4.84) > 2) this.heading += Math.PI;
    // Engine and fuel.
    const on = this.engineOn;
    const kph = this.speed * 3.6;
    if (!on) this.rpm = 0;
    else if (kph < 3) this.rpm = cls.idleRpm;
    else {
      let rpm = kph * cls.gears[0]!;
      for (let g = cls.gears.length - 1; g >= 0; g--) {
        if (kph * cls.gears[g]! >= cls.minRpm) {
          rpm = kph * cls.gears[g]!;
          break;
        }
      }
      this.rpm = Math.max(cls.idleRpm, rpm + Math.max(0, this.accel) * 150);
    }
    const v = this.speed;
    const power = cls.massKg * this.accel * v + cls.massKg * G * cls.crr * v + 0.5 * RHO * cls.cdA * v * v * v;
    const fuel = on ? (cls.idleLph / 3600) * dt + (Math.max(0, power) / (cls.efficiency * FUEL_J_PER_L)) * dt : 0;
    this.fuelUsed += fuel;
    this.fuelInTank = Math.max(0, this.fuelInTank - fuel);
    if (on && kph < 1) this.idleSeconds += dt;
    // Harsh braking: an episode is a run of samples at or below the threshold.
    const isHarsh = this.accel <= HARSH_BRAKING_MPS2;
    if (isHarsh && !this.inHarsh) this.harsh++;
    this.inHarsh = isHarsh;
  }

  private thermal(dt: number): void {
    const on = this.engineOn;
    const load = Math.min(1, this.rpm / 4000 + this.speed / 40);
    const overheating = this.active('overheating') !== undefined;
    const target = !on ? AMBIENT_C : overheating ? 128 : 88 + 6 * load;
    const rate = !on ? 0.004 : overheating ? 0.02 : 0.01 + 0.02 * load;
    this.coolant += (target - this.coolant) * Math.min(1, rate * dt);
    const leak = this.active('oil_leak') !== undefined;
    this.oilLevel = Math.max(0, this.oilLevel - (leak ? 0.02 : 0.00005) * dt);
    const lowBattery = this.active('low_battery') !== undefined;
    const batteryTarget = lowBattery ? 11.2 : on ? 14.1 : 12.6;
    this.battery += (batteryTarget - this.battery) * Math.min(1, 0.01 * dt);
  }

  private oilPressure(): number {
    if (!this.engineOn) return 0;
    const levelFactor = this.oilLevel > 40 ? 1 : Math.max(0.1, this.oilLevel / 40);
    const leakFactor = this.active('oil_leak') === undefined ? 1 : 0.75;
    return (80 + 0.09 * this.rpm) * levelFactor * leakFactor;
  }

  private telemetry(): Telemetry {
    const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;
    let lat = this.lat;
    let lon = this.lon;
    const jump = this.active('gps_jump');
    if (jump !== undefined) {
      const km = Number(jump.detail);
      lat += km / 111.32;
      lon += km / 111.32;
    }
    const pressure = this.oilPressure();
    const values = {
      coolantC: round(this.coolant + this.noise.range(-0.2, 0.2), 1),
      oilPressureKpa: pressure === 0 ? 0 : round(Math.max(0, pressure + this.noise.range(-1.5, 1.5)), 0),
      fuelLevelPct: round(Math.min(100, Math.max(0, (100 * this.fuelInTank) / this.cls.tankL + this.noise.range(-0.15, 0.15))), 1),
    };
    const stuck = this.active('stuck_sensor');
    if (stuck !== undefined) {
      const field = stuck.detail as keyof typeof values;
      this.stuck[field] ??= values[field];
      values[field] = this.stuck[field]!;
    }
    const dtc = this.active('dtc');
    return {
      v: 1,
      vehicleId: this.spec.vehicleId,
      seq: this.seq++,
      ts: this.ts,
      speedKph: round(this.speed * 3.6, 1),
      longAccelMps2: round(this.accel, 2),
      engineRpm: Math.round(this.rpm),
      coolantC: values.coolantC,
      oilPressureKpa: values.oilPressureKpa,
      oilLevelPct: round(this.oilLevel, 2),
      fuelLevelPct: values.fuelLevelPct,
      fuelUsedL: round(this.fuelUsed, 3),
      odometerKm: round(this.odometerKm, 3),
      batteryV: round(this.battery, 2),
      position: { lat: round(Math.max(-90, Math.min(90, lat)), 6), lon: round(Math.max(-180, Math.min(180, lon)), 6) },
      dtcs: dtc === undefined ? [] : [dtc.detail!],
    };
  }

  /** Whether the vehicle's link is down at device time `ts` (a tunnel, a garage). */
  linkLossAt(ts: number): LinkLoss | undefined {
    return this.linkLosses.find((l) => ts >= l.fromTs && ts < l.toTs);
  }

  truth(): VehicleTruth {
    const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;
    return {
      vehicleId: this.spec.vehicleId,
      class: this.cls.name,
      distanceKm: round(this.distanceKm, 3),
      fuelL: round(this.fuelUsed, 3),
      lPer100km: this.distanceKm >= 1 ? round((100 * this.fuelUsed) / this.distanceKm, 2) : null,
      idleSeconds: round(this.idleSeconds, 1),
      harshBrakingEvents: this.harsh,
      faults: this.faults.map((f) => ({ ...f })),
      linkLosses: this.linkLosses.map((l) => ({ ...l })),
      messages: this.messages,
    };
  }
}
