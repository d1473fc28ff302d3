import type { Lane, PartitionBacklog } from '../log/index.js';
import { LATENCY_BUCKETS, type LatencySummary } from './metrics.js';

/**
 * Where this gateway's data is: what the forwarder has not had acknowledged by Kafka yet.
 * Served as JSON at the agent's `/status`, printed by `roadlog edge status`, and sent as the
 * heartbeat value to the gateway-status topic (key = gateway id).
 */
export interface ForwarderStatus {
  gatewayId: string;
  /** When this status was taken, ms since epoch. */
  at: number;
  /** True while the last send or connect succeeded. */
  connected: boolean;
  lastError: { code: string; message: string; at: number } | undefined;
  lastAckAt: number | undefined;
  /** Records acknowledged by Kafka since the agent started. */
  forwardedRecords: number;
  backlog: {
    records: number;
    bytes: number;
    /** Of the oldest record not yet acknowledged: gateway append time, and the vehicle's own timestamp. */
    oldestIngestTs: number | undefined;
    oldestDeviceTs: number | undefined;
    oldestIngestAgeSeconds: number | undefined;
    oldestDeviceAgeSeconds: number | undefined;
    /** Records per second acknowledged over the last 30 s. */
    drainRate: number;
    /** records / drainRate; undefined when nothing waits or nothing drains. */
    etaSeconds: number | undefined;
  };
  /** The pipeline now: batches read and not wholly acknowledged, requests awaiting an answer, records and value bytes they hold. */
  inFlight: { batches: number; requests: number; records: number; bytes: number };
  /** PUBACK → Kafka ack since the agent started (the histogram `roadlog_edge_forward_latency_seconds`). */
  latency: LatencySummary;
  /** Partitions with records waiting. */
  partitions: { lane: Lane; partition: number; records: number; bytes: number; oldestIngestTs: number | undefined; oldestDeviceTs: number | undefined }[];
}

/** Nothing in flight, nothing measured: the status of a forwarder that is not running. */
export const IDLE = { inFlight: { batches: 0, requests: 0, records: 0, bytes: 0 }, latency: { count: 0, p50Ms: undefined, p99Ms: undefined, buckets: {} } } as const;

export function summarize(input: {
  gatewayId: string;
  now: number;
  connected: boolean;
  lastError: ForwarderStatus['lastError'];
  lastAckAt: number | undefined;
  forwardedRecords: number;
  drainRate: number;
  inFlight: ForwarderStatus['inFlight'];
  latency: LatencySummary;
  partitions: PartitionBacklog[];
}): ForwarderStatus {
  const { partitions, now, drainRate } = input;
  const records = partitions.reduce((n, p) => n + p.records, 0);
  const bytes = partitions.reduce((n, p) => n + p.bytes, 0);
  const min = (xs: (number | undefined)[]): number | undefined => {
    const d = xs.filter((x): x is number => x !== undefined);
    return d.length === 0 ? undefined : Math.min(...d);
  };
  const oldestIngestTs = min(partitions.map((p) => p.oldestIngestTs));
  const oldestDeviceTs = min(partitions.map((p) => p.oldestDeviceTs));
  const age = (ts: number | undefined) => (ts === undefined ? undefined : Math.max(0, (now - ts) / 1000));
  return {
    gatewayId: input.gatewayId,
    at: now,
    connected: input.connected,
    lastError: input.lastError,
    lastAckAt: input.lastAckAt,
    forwardedRecords: input.forwardedRecords,
    backlog: {
      records,
      bytes,
      oldestIngestTs,
      oldestDeviceTs,
      oldestIngestAgeSeconds: age(oldestIngestTs),
      oldestDeviceAgeSeconds: age(oldestDeviceTs),
      drainRate,
      etaSeconds: records > 0 && drainRate > 0 ? records / drainRate : undefined,
    },
    inFlight: input.inFlight,
    latency: input.latency,
    partitions: partitions.map((p) => ({ lane: p.lane, partition: p.partition, records: p.records, bytes: p.bytes, oldestIngestTs: p.oldestIngestTs, oldestDeviceTs: p.oldestDeviceTs })),
  };
}

/** Records per second over a sliding window (default 30 s), from per-second buckets. */
export class DrainRate {
  private readonly buckets = new Map<number, number>();

  constructor(
    private readonly now: () => number,
    private readonly windowSeconds = 30,
  ) {}

  add(records: number): void {
    const sec = Math.floor(this.now() / 1000);
    this.buckets.set(sec, (this.buckets.get(sec) ?? 0) + records);
    for (const k of this.buckets.keys()) if (k <= sec - this.windowSeconds) this.buckets.delete(k);
  }

  perSecond(): number {
    const sec = Math.floor(this.now() / 1000);
    let n = 0;
    for (const [k, v] of this.buckets) if (k > sec - this.windowSeconds) n += v;
    return n / this.windowSeconds;
  }
}

function formatLatency(l: LatencySummary): string {
  if (l.count === 0) return 'none yet';
  const ms = (v: number | undefined) => (v === undefined ? '-' : v === Infinity ? `> ${LATENCY_BUCKETS.at(-1)} s` : v < 1000 ? `≤ ${v} ms` : `≤ ${v / 1000} s`);
  const buckets = Object.entries(l.buckets)
    .map(([le, n]) => `${le === '+Inf' ? 'more' : `≤${Number(le) < 1000 ? `${le}ms` : `${Number(le) / 1000}s`}`} ${n}`)
    .join(', ');
  return `p50 ${ms(l.p50Ms)}, p99 ${ms(l.p99Ms)} (${buckets})`;
}

/** Human-readable status (`roadlog edge status`). */
export function formatStatus(s: ForwarderStatus): string {
  const t = (ts: number | undefined) => (ts === undefined ? '-' : new Date(ts).toISOString());
  const dur = (sec: number | undefined) => (sec === undefined ? '-' : sec < 120 ? `${sec.toFixed(1)} s` : sec < 7200 ? `${(sec / 60).toFixed(1)} min` : `${(sec / 3600).toFixed(1)} h`);
  const b = s.backlog;
  const lines = [
    `gateway      ${s.gatewayId}`,
    `kafka        ${s.connected ? 'connected' : 'NOT connected'}${s.lastError === undefined ? '' : ` (last error ${t(s.lastError.at)}: ${s.lastError.code} ${s.lastError.message})`}`,
    `last ack     ${t(s.lastAckAt)}; forwarded since start: ${s.forwardedRecords}`,
    `backlog      ${b.records} records, ${b.bytes} bytes; oldest waiting: ingest ${dur(b.oldestIngestAgeSeconds)} ago, device time ${dur(b.oldestDeviceAgeSeconds)} ago`,
    `drain        ${b.drainRate.toFixed(1)} records/s; ETA ${b.records === 0 ? 'none waiting' : dur(b.etaSeconds)}`,
    `in flight    ${s.inFlight.batches} batches, ${s.inFlight.requests} requests, ${s.inFlight.records} records`,
    `latency      PUBACK → Kafka ack, ${s.latency.count} records since start: ${formatLatency(s.latency)}`,
  ];
  if (s.partitions.length > 0) {
    lines.push('', 'lane      partition  records      bytes  oldest (ingest time)');
    for (const p of s.partitions) lines.push(`${p.lane.padEnd(9)} ${String(p.partition).padStart(9)} ${String(p.records).padStart(8)} ${String(p.bytes).padStart(10)}  ${t(p.oldestIngestTs)}`);
  }
  return `${lines.join('\n')}\n`;
}
