/**
 * The ingest benchmark's load generator: N MQTT vehicles (MQTT.js 5, TCP_NODELAY) publishing
 * valid telemetry v1 at QoS 1, closed loop (a fixed number in flight per vehicle) or open loop
 * (a fixed rate, latency counted from the scheduled send time). It runs in a process of its own
 * (`runLoadgen`: this file with a PhaseSpec as JSON, its result one JSON line on stdout), so its
 * CPU is not the broker's nor the benchmark's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** QoS 1 publishes each vehicle keeps in flight in the closed loop. */
export const IN_FLIGHT = 64;

// Payloads: valid telemetry v1, ~300 bytes of JSON.

export const vehicleIdOf = (i: number): string => `veh-${String(i).padStart(5, '0')}`;

function payload(vehicleId: string, seq: number, ts: number): Buffer {
  const x = (seq % 997) / 997;
  return Buffer.from(
    JSON.stringify({
      v: 1,
      vehicleId,
      seq,
      ts,
      speedKph: Math.round(x * 1200) / 10,
      longAccelMps2: Math.round((x - 0.5) * 400) / 100,
      engineRpm: 800 + Math.round(x * 3000),
      coolantC: Math.round(850 + x * 100) / 10,
      oilPressureKpa: Math.round(2500 + x * 1000) / 10,
      oilLevelPct: 87.2,
      fuelLevelPct: 54.3,
      fuelUsedL: Math.round(1_234_567 + seq) / 1000,
      odometerKm: Math.round(4_821_173 + seq * 10) / 100,
      batteryV: 13.9,
      position: { lat: 52.3702, lon: 4.8952 },
      dtcs: [],
    }),
  );
}

// One phase: connect the clients, publish, report (the caller prints it as one JSON line).

export interface PhaseSpec {
  url: string;
  mode: 'closed' | 'open';
  clients: number;
  /** open: messages per second offered across all clients. */
  rate?: number;
  seconds: number;
  warmupSeconds: number;
  /** Offset for vehicle numbers and seqs, so phases against one broker never repeat (vehicleId, seq). */
  seqBase: number;
  /** First vehicle number (default 0): clients are vehicles firstVehicle .. firstVehicle+clients-1. */
  firstVehicle?: number;
  /** MQTT password of every vehicle (default none: the brokers run anonymous). */
  password?: string;
  /** Each message's `ts` is its send time (wall clock), for a consumer measuring end-to-end latency. */
  stampSendTime?: boolean;
}

export interface PhaseResult {
  acked: number;
  errors: number;
  unacked: number;
  seconds: number;
  msgPerSec: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  payloadBytes: { min: number; mean: number; max: number };
  loadgenCpuPct: number;
  connectMs: number;
  maxOutstanding: number;
}

export async function loadgen(spec: PhaseSpec): Promise<PhaseResult> {
  const { connectAsync } = await import('mqtt');
  const t0 = performance.now();
  const clients: Awaited<ReturnType<typeof connectAsync>>[] = [];
  for (let i = 0; i < spec.clients; i += 50) {
    const batch = Array.from({ length: Math.min(50, spec.clients - i) }, (_, j) => {
      const id = vehicleIdOf((spec.firstVehicle ?? 0) + i + j);
      return connectAsync(spec.url, { clientId: id, username: id, ...(spec.password === undefined ? {} : { password: spec.password }), protocolVersion: 4, clean: true, reconnectPeriod: 0, keepalive: 120, connectTimeout: 30_000 });
    });
    clients.push(...(await Promise.all(batch)));
  }
  for (const c of clients) (c.stream as unknown as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
  const connectMs = performance.now() - t0;

  const seqs = new Array<number>(spec.clients).fill(spec.seqBase);
  const lat: number[] = [];
  let errors = 0;
  let outstanding = 0;
  let maxOutstanding = 0;
  let acked = 0;
  let sizeMin = Infinity;
  let sizeMax = 0;
  let sizeSum = 0;
  let sizeN = 0;
  const started = performance.now();
  const measureFrom = started + spec.warmupSeconds * 1000;
  const until = measureFrom + spec.seconds * 1000;
  const cpu0 = process.cpuUsage();
  let measuredAcked = 0;

  const send = (i: number, scheduled: number, onDone?: () => void): void => {
    const c = clients[i]!;
    const id = vehicleIdOf((spec.firstVehicle ?? 0) + i);
    const seq = ++seqs[i]!;
    const body = payload(id, seq, spec.stampSendTime === true ? Date.now() : 1_767_225_600_000 + seq * 1000);
    if (sizeN < 100_000) {
      sizeN += 1;
      sizeSum += body.length;
      if (body.length < sizeMin) sizeMin = body.length;
      if (body.length > sizeMax) sizeMax = body.length;
    }
    outstanding += 1;
    if (outstanding > maxOutstanding) maxOutstanding = outstanding;
    c.publish(`fleet/${id}/telemetry`, body, { qos: 1 }, (err) => {
      outstanding -= 1;
      const now = performance.now();
      if (err) errors += 1;
      else {
        acked += 1;
        if (scheduled >= measureFrom && scheduled < until) {
          measuredAcked += 1;
          lat.push(now - scheduled);
        }
      }
      onDone?.();
    });
  };

  if (spec.mode === 'closed') {
    await new Promise<void>((resolve) => {
      let live = spec.clients * IN_FLIGHT;
      const loop = (i: number): void => {
        const now = performance.now();
        if (now >= until) {
          if (--live === 0) resolve();
          return;
        }
        send(i, now, () => loop(i));
      };
      for (let i = 0; i < spec.clients; i++) for (let k = 0; k < IN_FLIGHT; k++) loop(i);
    });
  } else {
    const rate = spec.rate!;
    let sent = 0;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const now = performance.now();
        const due = Math.floor(((Math.min(now, until) - started) / 1000) * rate);
        while (sent < due) {
          const scheduled = started + (sent / rate) * 1000;
          send(sent % spec.clients, scheduled);
          sent += 1;
        }
        if (now >= until) {
          clearInterval(timer);
          resolve();
        }
      }, 1);
    });
    const drainUntil = performance.now() + 10_000;
    while (outstanding > 0 && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 10));
  }
  const cpu = process.cpuUsage(cpu0);
  const wall = (performance.now() - started) / 1000;
  const unacked = outstanding;
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  const sorted = Float64Array.from(lat).sort();
  const pct = (p: number): number => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!);
  return {
    acked,
    errors,
    unacked,
    seconds: spec.seconds,
    msgPerSec: measuredAcked / spec.seconds,
    p50: pct(50),
    p99: pct(99),
    p999: pct(99.9),
    max: sorted.length === 0 ? NaN : sorted[sorted.length - 1]!,
    payloadBytes: { min: sizeMin, mean: sizeSum / Math.max(1, sizeN), max: sizeMax },
    loadgenCpuPct: ((cpu.user + cpu.system) / 1e6 / wall) * 100,
    connectMs,
    maxOutstanding,
  };
}

const SELF = fileURLToPath(import.meta.url);

/**
 * Runs one phase in a load-generator process and returns its result. `track` is told the child
 * (a benchmark kills it with the rest on Ctrl-C); the child is killed if it outlives the phase
 * by 90 s.
 */
export function runLoadgen(spec: PhaseSpec, track: (child: ChildProcess) => void = () => undefined): Promise<PhaseResult> {
  const child = spawn(process.execPath, [...process.execArgv, SELF, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
  track(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), (spec.warmupSeconds + spec.seconds) * 1000 + 90_000);
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as PhaseResult);
      else reject(new Error(`loadgen exited with ${code ?? signal}: ${out.slice(-2000)}`));
    });
  });
}

if (process.argv[1] === SELF) {
  loadgen(JSON.parse(process.argv[2]!) as PhaseSpec).then(
    (r) => {
      process.stdout.write(`${JSON.stringify(r)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
