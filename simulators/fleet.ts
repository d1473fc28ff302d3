import { createHmac } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import mqtt, { type MqttClient } from 'mqtt';
import { RoadlogError } from '../shared/errors/index.js';
import type { Telemetry } from '../shared/schema/index.js';
import { Rng } from './rng.js';
import { SimVehicle, type VehicleTruth } from './model.js';

/**
 * A simulated fleet: N vehicles stepped in device time (`speedup` times faster than the wall
 * clock), each publishing its telemetry over its own MQTT connection, QoS 1, with its own
 * credentials. What a vehicle makes depends only on the seed and device time, never on the
 * network, so the same seed gives the same message stream and the same truth file.
 *
 * Connectivity: during a link loss drawn from the seed a vehicle keeps its messages in a
 * bounded buffer (oldest dropped past `bufferLimit`, seq numbers kept) and uploads them with
 * their original timestamps when the link is back; some vehicles then send their last few
 * messages from before the loss again (duplicates a consumer must drop).
 */
export interface FleetOptions {
  vehicles: number;
  seed: number;
  /** Device seconds per wall second. */
  speedup: number;
  /** Device time to simulate, ms. */
  durationMs: number;
  /** Messages per vehicle per second of device time. */
  rateHz: number;
  /** Device time at the start, ms since the epoch. */
  startTs: number;
  /**
   * Device time is the wall clock: the run starts (startTs is replaced) once the vehicles are
   * connected, so the seconds spent connecting a large fleet do not put every record behind.
   */
  startNow?: boolean;
  idPrefix: string;
  /** mqtt://host:port; none: generate only (a dry run). */
  broker?: string;
  /** Vehicle passwords are HMAC-SHA256(secret, vehicleId) in hex; none: no password. */
  secret?: string;
  /** Only vehicles with index % count === index (a worker process's share). */
  shard?: { index: number; count: number };
  bufferLimit?: number;
  /** Every message made, as JSON lines, in the order made. */
  messagesFile?: string;
  /** Called about once a second of wall time. */
  onProgress?: (p: FleetProgress) => void;
  /** Ctrl-C: stop making messages, send what is buffered (up to 5 s), disconnect. */
  signal?: AbortSignal;
  /** After the last device second, how long to keep sending what is buffered (default 30 s); the rest is reported unsent. */
  drainTimeoutMs?: number;
}

export interface FleetProgress {
  deviceTs: number;
  endTs: number;
  vehicles: number;
  connected: number;
  made: number;
  sent: number;
  acked: number;
  reconnects: number;
  backlog: number;
  dropped: number;
}

export interface FleetResult extends FleetProgress {
  truth: VehicleTruth[];
  /** Acknowledged seqs per vehicle (duplicates from re-sending included once). */
  ackedSeqs: Map<string, number[]>;
  /** Device-time spells each vehicle had no connection to the broker (after its first), e.g. while a gateway restarted. */
  disconnected: Map<string, { fromTs: number; toTs: number }[]>;
  wallMs: number;
}

export const vehicleIdOf = (prefix: string, index: number): string => `${prefix}-${String(index).padStart(5, '0')}`;

export function vehiclePassword(secret: string, vehicleId: string): string {
  return createHmac('sha256', secret).update(vehicleId).digest('hex');
}

interface Runner {
  index: number;
  vehicle: SimVehicle;
  outbox: Telemetry[];
  /** Recently acknowledged (for re-sending after a link loss). */
  recent: Telemetry[];
  client: MqttClient | undefined;
  inFlight: number;
  acked: Set<number>;
  lossHandled: Set<number>;
  dropped: number;
  /** Why the broker refused the login, when it did. */
  refused: string | undefined;
  /** Wall time the connection to the broker dropped (until it is back), and the spells it was down. */
  downSince: number | undefined;
  downSpells: [number, number][];
}

const MAX_IN_FLIGHT = 20;

/** Depots the simulated fleet is spread over (vehicle index modulo this). */
export const SIM_DEPOTS = 4;

/** The fleet's vehicles as the reference table lists them (class from each vehicle's seed; depot `depot-{index % 4}`), without running it. */
export function fleetVehicles(o: Pick<FleetOptions, 'seed' | 'vehicles' | 'startTs' | 'durationMs' | 'rateHz' | 'idPrefix'>): { vehicleId: string; class: string; depot: string }[] {
  const root = new Rng(o.seed);
  const intervalMs = Math.round(1000 / o.rateHz);
  return Array.from({ length: o.vehicles }, (_, i) => {
    const vehicleId = vehicleIdOf(o.idPrefix, i);
    const v = new SimVehicle({ index: i, vehicleId, seed: root.fork(i).seed, startTs: o.startTs, durationMs: o.durationMs, intervalMs });
    return { vehicleId, class: v.truth().class, depot: `depot-${i % SIM_DEPOTS}` };
  });
}

export async function runFleet(options: FleetOptions): Promise<FleetResult> {
  let o = options;
  const root = new Rng(o.seed);
  const intervalMs = Math.round(1000 / o.rateHz);
  const vehicleOf = (i: number, startTs: number) => new SimVehicle({ index: i, vehicleId: vehicleIdOf(o.idPrefix, i), seed: root.fork(i).seed, startTs, durationMs: o.durationMs, intervalMs });
  const runners: Runner[] = [];
  for (let i = 0; i < o.vehicles; i++) {
    if (o.shard !== undefined && i % o.shard.count !== o.shard.index) continue;
    runners.push({ index: i, vehicle: vehicleOf(i, o.startTs), outbox: [], recent: [], client: undefined, inFlight: 0, acked: new Set(), lossHandled: new Set(), dropped: 0, refused: undefined, downSince: undefined, downSpells: [] });
  }
  const bufferLimit = o.bufferLimit ?? 3_600;
  const stats = { made: 0, sent: 0, acked: 0, reconnects: 0 };
  const messages: WriteStream | undefined = o.messagesFile === undefined ? undefined : createWriteStream(o.messagesFile);
  if (o.broker !== undefined) await connectAll(runners, o, stats);
  const refused = runners.find((r) => r.refused !== undefined);
  if (refused !== undefined) {
    await Promise.all(runners.map((r) => r.client?.endAsync(true)));
    throw new RoadlogError('ROADLOG_ERR_MQTT_AUTH', `${o.broker} refused ${refused.vehicle.spec.vehicleId}'s login: ${refused.refused} (credentials: \`roadlog sim-credentials --secret ...\` for the agent, the same --secret here)`);
  }
  if (o.broker !== undefined && runners.every((r) => r.client?.connected !== true)) {
    await Promise.all(runners.map((r) => r.client?.endAsync(true)));
    throw new RoadlogError('ROADLOG_ERR_MQTT_UNAVAILABLE', `no vehicle could connect to ${o.broker} within 10 s (is the edge agent running?)`);
  }

  if (o.startNow === true) {
    // The vehicles are built again (cheap) for the start known only now: a vehicle's seqs and truth follow its start.
    o = { ...o, startTs: Math.floor(Date.now() / intervalMs) * intervalMs };
    for (const r of runners) r.vehicle = vehicleOf(r.index, o.startTs);
  }
  const endTs = o.startTs + o.durationMs;
  const wallStart = o.startNow === true ? o.startTs : Date.now();
  const deviceNow = () => Math.min(endTs, o.startTs + (Date.now() - wallStart) * o.speedup);
  const progress = (): FleetProgress => ({
    deviceTs: deviceNow(),
    endTs,
    vehicles: runners.length,
    connected: runners.filter((r) => r.client?.connected === true).length,
    made: stats.made,
    sent: stats.sent,
    acked: stats.acked,
    reconnects: stats.reconnects,
    backlog: runners.reduce((n, r) => n + r.outbox.length, 0),
    dropped: runners.reduce((n, r) => n + r.dropped, 0),
  });
  let lastProgress = 0;
  let abortedAt: number | undefined;
  let endedAt: number | undefined;
  /** Device time of the next step; every vehicle takes each step before any takes the next, so the stream's order never depends on timing. */
  let nextTs = o.startTs + intervalMs;
  for (;;) {
    if (o.signal?.aborted === true) abortedAt ??= Date.now();
    if (nextTs > endTs || abortedAt !== undefined) endedAt ??= Date.now();
    if (endedAt !== undefined && Date.now() - endedAt > (abortedAt === undefined ? (o.drainTimeoutMs ?? 30_000) : 5_000)) break;
    const now = deviceNow();
    for (; abortedAt === undefined && nextTs <= now && nextTs <= endTs; nextTs += intervalMs) {
      for (const r of runners) {
        const msg = r.vehicle.step();
        if (msg === undefined) continue;
        stats.made++;
        messages?.write(`${JSON.stringify(msg)}\n`);
        if (o.broker === undefined) continue;
        r.outbox.push(msg);
        if (r.outbox.length > bufferLimit) {
          r.outbox.shift();
          r.dropped++;
        }
      }
    }
    let pending = abortedAt === undefined && nextTs <= endTs;
    if (o.broker !== undefined) {
      for (const r of runners) {
        pump(r, stats);
        if (r.outbox.length > 0 || r.inFlight > 0) pending = true;
      }
    }
    if (Date.now() - lastProgress >= 1000) {
      lastProgress = Date.now();
      o.onProgress?.(progress());
    }
    if (!pending) break;
    await new Promise((resolve) => setTimeout(resolve, Math.max(5, Math.min(50, intervalMs / o.speedup / 2))));
  }
  if (messages !== undefined) await new Promise<void>((resolve, reject) => messages.end((err?: Error | null) => (err ? reject(err) : resolve())));
  const toDevice = (wall: number) => Math.max(o.startTs, Math.min(endTs, o.startTs + (wall - wallStart) * o.speedup));
  const disconnected = new Map(runners.map((r) => [r.vehicle.spec.vehicleId, [...r.downSpells, ...(r.downSince === undefined ? [] : [[r.downSince, Date.now()] as [number, number]])].map(([a, b]) => ({ fromTs: toDevice(a), toTs: toDevice(b) })).filter((d) => d.toTs > d.fromTs)]));
  await Promise.all(runners.map((r) => r.client?.endAsync()));
  const final = progress();
  o.onProgress?.(final);
  return {
    ...final,
    truth: runners.map((r) => r.vehicle.truth()),
    ackedSeqs: new Map(runners.map((r) => [r.vehicle.spec.vehicleId, [...r.acked].sort((a, b) => a - b)])),
    disconnected,
    wallMs: Date.now() - wallStart,
  };
}

async function connectAll(runners: Runner[], o: FleetOptions, stats: { reconnects: number }): Promise<void> {
  // A few at a time: a thousand simultaneous CONNECTs (and password checks) would be a storm.
  const queue = [...runners];
  const connectOne = async (r: Runner): Promise<void> => {
    const id = r.vehicle.spec.vehicleId;
    const client = mqtt.connect(o.broker!, {
      clientId: id,
      protocolVersion: 4,
      clean: false,
      reconnectPeriod: 1_000,
      connectTimeout: 10_000,
      ...(o.secret === undefined ? {} : { username: id, password: vehiclePassword(o.secret, id) }),
    });
    client.on('reconnect', () => stats.reconnects++);
    // Spells without a broker (a gateway restarting): the vehicle is silent meanwhile, as in a link loss of its own.
    client.on('close', () => void (r.downSince ??= Date.now()));
    client.on('connect', () => {
      if (r.downSince !== undefined) r.downSpells.push([r.downSince, Date.now()]);
      r.downSince = undefined;
    });
    client.on('error', (err: Error & { code?: number | string }) => {
      // CONNACK return codes 4 and 5 (MQTT 3.1.1): bad user name or password, not authorized.
      if (err.code === 4 || err.code === 5) {
        r.refused = err.message;
        client.end(true);
      }
    });
    r.client = client;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 10_000);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      client.once('connect', done);
      client.once('error', done);
    });
  };
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      for (let r = queue.shift(); r !== undefined; r = queue.shift()) await connectOne(r);
    }),
  );
}

/** Sends what the vehicle's link and in-flight window allow, oldest first. */
function pump(r: Runner, stats: { sent: number; acked: number }): void {
  const client = r.client;
  if (client === undefined || !client.connected) return;
  const ts = r.vehicle.deviceTs;
  const loss = r.vehicle.linkLossAt(ts);
  if (loss !== undefined) return; // in the tunnel: keep buffering
  // Just out of a loss: some vehicles send their last messages from before it again.
  for (const l of r.vehicle.linkLosses) {
    if (ts >= l.toTs && !r.lossHandled.has(l.fromTs)) {
      r.lossHandled.add(l.fromTs);
      if (l.resend) r.outbox.unshift(...r.recent.filter((m) => m.ts < l.fromTs).slice(-5));
    }
  }
  while (r.outbox.length > 0 && r.inFlight < MAX_IN_FLIGHT) {
    const msg = r.outbox.shift()!;
    r.inFlight++;
    stats.sent++;
    client.publish(`fleet/${msg.vehicleId}/telemetry`, JSON.stringify(msg), { qos: 1 }, (err) => {
      r.inFlight--;
      if (err !== undefined && err !== null) {
        r.outbox.unshift(msg); // not acknowledged: sent again, same seq
        return;
      }
      if (!r.acked.has(msg.seq)) stats.acked++;
      r.acked.add(msg.seq);
      r.recent.push(msg);
      if (r.recent.length > 10) r.recent.shift();
    });
  }
}

/**
 * The truth file: one `run` line, then per vehicle a `vehicle` line, its `fault` and `link_loss`
 * lines and, when the fleet drove against a broker (`acked` given), an `acked` line: the seqs the
 * broker acknowledged, as ranges `[[first, last], ...]` (what an end-to-end check must find
 * downstream), and a `disconnected` line per spell without the broker (device time).
 */
export function truthLines(o: Pick<FleetOptions, 'seed' | 'vehicles' | 'startTs' | 'durationMs' | 'rateHz' | 'idPrefix'>, truth: readonly VehicleTruth[], withRunLine = true, acked?: ReadonlyMap<string, readonly number[]>, disconnected?: ReadonlyMap<string, readonly { fromTs: number; toTs: number }[]>): string[] {
  const lines: string[] = [];
  if (withRunLine) lines.push(JSON.stringify({ type: 'run', seed: o.seed, vehicles: o.vehicles, startTs: o.startTs, endTs: o.startTs + o.durationMs, rateHz: o.rateHz, idPrefix: o.idPrefix, harshBrakingMps2: -4 }));
  for (const t of [...truth].sort((a, b) => (a.vehicleId < b.vehicleId ? -1 : 1))) {
    const { faults, linkLosses, ...summary } = t;
    lines.push(JSON.stringify({ type: 'vehicle', ...summary }));
    for (const f of faults) lines.push(JSON.stringify({ type: 'fault', vehicleId: t.vehicleId, ...f }));
    for (const l of linkLosses) lines.push(JSON.stringify({ type: 'link_loss', vehicleId: t.vehicleId, ...l }));
    const seqs = acked?.get(t.vehicleId);
    if (seqs !== undefined) lines.push(JSON.stringify({ type: 'acked', vehicleId: t.vehicleId, count: seqs.length, seqs: seqRanges(seqs) }));
    for (const d of disconnected?.get(t.vehicleId) ?? []) lines.push(JSON.stringify({ type: 'disconnected', vehicleId: t.vehicleId, ...d }));
  }
  return lines;
}

/** Sorted seqs as inclusive ranges: [1, 2, 3, 7] → [[1, 3], [7, 7]]. */
export function seqRanges(sorted: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const s of sorted) {
    const last = out.at(-1);
    if (last !== undefined && s === last[1] + 1) last[1] = s;
    else out.push([s, s]);
  }
  return out;
}

export async function writeTruth(file: string, lines: readonly string[]): Promise<void> {
  await writeFile(file, lines.length === 0 ? '' : `${lines.join('\n')}\n`);
}
