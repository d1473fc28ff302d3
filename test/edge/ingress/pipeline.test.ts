import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { AppendInput, AppendResult } from '../../../edge/log/index.js';
import { createIngressMetrics } from '../../../edge/ingress/metrics.js';
import { DEAD_LETTER_HEADER, Ingest, IngestRejected, type IngestMessage } from '../../../edge/ingress/pipeline.js';
import { RoadlogError } from '../../../shared/errors/index.js';
import { exampleTelemetry } from '../../../shared/schema/index.js';

/** An append whose completion the test controls: resolve(i) / reject(i, err). */
function controlledLog() {
  const calls: { input: AppendInput; resolve: (r: AppendResult) => void; reject: (e: unknown) => void }[] = [];
  const append = (input: AppendInput) => new Promise<AppendResult>((resolve, reject) => calls.push({ input, resolve, reject }));
  const result = (i: number): AppendResult => ({ lane: calls[i]!.input.lane ?? (calls[i]!.input.critical ? 'critical' : 'normal'), partition: 0, offset: i });
  return { calls, append, settle: (i: number) => calls[i]!.resolve(result(i)) };
}

function ingestWith(append: (i: AppendInput) => Promise<AppendResult>) {
  const registry = new Registry();
  const metrics = createIngressMetrics(registry);
  return { ingest: new Ingest({ append, metrics, maxPayloadBytes: 4096, dedupWindow: 100, rate: { messagesPerSecond: 1e6, burst: 1e6 } }), registry };
}

const msg = (seq: number, over: Partial<IngestMessage> = {}, record: Record<string, unknown> = {}): IngestMessage => ({
  vehicleId: 'VH-1',
  clientId: 'c1',
  topic: 'fleet/VH-1/telemetry',
  qos: 1,
  payload: Buffer.from(JSON.stringify({ ...exampleTelemetry({ vehicleId: 'VH-1', seq }), ...record })),
  ...over,
});

const flush = () => new Promise((r) => setImmediate(r));

describe('ingest pipeline', () => {
  it('resolves (acknowledges) only after the append resolved', async () => {
    const log = controlledLog();
    const { ingest } = ingestWith(log.append);
    let acked = false;
    const p = ingest.ingest(msg(1)).then(() => (acked = true));
    await flush();
    expect(log.calls.length).toBe(1);
    expect(acked).toBe(false);
    log.settle(0);
    await p;
    expect(acked).toBe(true);
  });

  it('appends in arrival order, synchronously, even when appends complete out of order', async () => {
    const log = controlledLog();
    const { ingest } = ingestWith(log.append);
    const all = [1, 2, 3].map((s) => ingest.ingest(msg(s)));
    expect(log.calls.map((c) => (JSON.parse(Buffer.from(c.input.value as Uint8Array).toString()) as { seq: number }).seq)).toEqual([1, 2, 3]);
    log.settle(2);
    log.settle(0);
    log.settle(1);
    expect((await Promise.all(all)).map((o) => o.kind)).toEqual(['stored', 'stored', 'stored']);
  });

  it('a retry of a record still being appended waits for it, and is not appended twice', async () => {
    const log = controlledLog();
    const { ingest } = ingestWith(log.append);
    let retryAcked = false;
    const first = ingest.ingest(msg(7));
    const retry = ingest.ingest(msg(7)).then((o) => {
      retryAcked = true;
      return o;
    });
    await flush();
    expect(log.calls.length).toBe(1);
    expect(retryAcked).toBe(false); // not before the original is durable
    log.settle(0);
    expect((await first).kind).toBe('stored');
    expect((await retry).kind).toBe('duplicate');
    expect((await ingest.ingest(msg(7))).kind).toBe('duplicate');
    expect(log.calls.length).toBe(1);
  });

  it('routes records with trouble codes to the critical lane', async () => {
    const seen: AppendInput[] = [];
    const { ingest } = ingestWith(async (i) => (seen.push(i), { lane: 'normal', partition: 0, offset: 0 }));
    await ingest.ingest(msg(1, {}, { dtcs: ['P0217'] }));
    await ingest.ingest(msg(2));
    expect(seen.map((i) => i.critical)).toEqual([true, false]);
    expect(seen[0]!.deviceTs).toBe(exampleTelemetry().ts);
  });

  it('stores invalid payloads in the dead lane with the reason, and acknowledges them', async () => {
    const seen: AppendInput[] = [];
    const { ingest, registry } = ingestWith(async (i) => (seen.push(i), { lane: i.lane ?? 'normal', partition: 0, offset: 0 }));
    const cases: [IngestMessage, string][] = [
      [msg(1, { payload: Buffer.from('not json') }), 'not_json'],
      [msg(2, {}, { speedKph: 999 }), 'schema'],
      [msg(3, { payload: Buffer.alloc(5000, 0x20) }), 'oversize'],
      [msg(4, {}, { vehicleId: 'VH-2' }), 'vehicle_mismatch'],
    ];
    for (const [m, reason] of cases) {
      const outcome = await ingest.ingest(m);
      expect(outcome).toMatchObject({ kind: 'dead_letter', reason });
      const last = seen[seen.length - 1]!;
      expect(last.lane).toBe('dead');
      expect(Buffer.from(last.value as Uint8Array)).toEqual(m.payload); // the raw bytes, as sent
      expect(last.headers?.find((h) => h.name === DEAD_LETTER_HEADER.reason)?.value.toString()).toBe(reason);
    }
    const text = await registry.metrics();
    expect(text).toMatch(/roadlog_edge_messages_total\{outcome="dead_letter"\} 4/);
    expect(text).toMatch(/roadlog_edge_rejects_total\{reason="schema"\} 1/);
  });

  it('refuses (no acknowledgment) a publish to another vehicle\'s topic, appending nothing', async () => {
    const log = controlledLog();
    const { ingest } = ingestWith(log.append);
    await expect(ingest.ingest(msg(1, { topic: 'fleet/VH-2/telemetry' }))).rejects.toMatchObject({ reason: 'acl_other_vehicle' });
    expect(log.calls.length).toBe(0);
  });

  it('refuses when the log is full, and lets the retry through once there is room', async () => {
    let full = true;
    const { ingest } = ingestWith(async () => {
      if (full) throw new RoadlogError('ROADLOG_ERR_LOG_FULL', 'quota reached');
      return { lane: 'normal', partition: 0, offset: 0 };
    });
    const err = await ingest.ingest(msg(5)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IngestRejected);
    expect((err as IngestRejected).reason).toBe('log_full');
    full = false;
    expect((await ingest.ingest(msg(5))).kind).toBe('stored'); // not mistaken for a duplicate
  });
});
