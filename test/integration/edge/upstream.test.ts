import { afterAll, describe, expect, inject, it } from 'vitest';
import type { AppendInput, AppendResult } from '../../../edge/log/index.js';
import { randomName, waitFor } from '../../support/kafka.js';
import { MEMORY_DIR, connectClient, mosquittoPub, readLog, removeTempDirs, seqsByVehicle, startAgent, telemetry, tempDir, topicOf } from '../../edge/ingress/support/agent.js';

/**
 * Client mode against the real Mosquitto of the global setup: what mosquitto_pub publishes to
 * Mosquitto ends up in the agent's log, in order; and a message the agent took but never
 * acknowledged (its append hangs; the agent is closed) is delivered again by Mosquitto to the
 * next agent with the same client id, and stored then.
 */
const upstreamUrl = inject('mosquittoUrl');
const { hostname, port } = new URL(upstreamUrl);
const sessions: string[] = [];

afterAll(async () => {
  // Forget the persistent sessions this file made on the shared Mosquitto.
  for (const clientId of sessions) await (await connectClient(upstreamUrl, { clientId, clean: true })).endAsync();
  await removeTempDirs();
});

function upstreamAgent(vehicle: string, clientId: string, dataDir: string, appendHook?: (input: AppendInput, append: (i: AppendInput) => Promise<AppendResult>) => Promise<AppendResult>) {
  sessions.push(clientId);
  return startAgent({ dataDir, mqtt: { mode: 'client', upstream: { url: upstreamUrl, clientId, topic: topicOf(vehicle) } } }, appendHook === undefined ? {} : { appendHook });
}

const pub = (vehicle: string, args: string[], input = '') => mosquittoPub(['-h', hostname, '-p', port, '-i', randomName('mp'), '-q', '1', '-t', topicOf(vehicle), ...args], input);

async function stored(t: { agent: { registry: { getSingleMetricAsString(n: string): Promise<string> } } }): Promise<number> {
  const text = await t.agent.registry.getSingleMetricAsString('roadlog_edge_messages_total');
  return Number(/outcome="stored"[^}]*} (\d+)/.exec(text)?.[1] ?? 0);
}

describe('edge agent in client mode (Mosquitto upstream)', () => {
  it('stores what mosquitto_pub publishes to Mosquitto, in order, once ready', async () => {
    const vehicle = randomName('VH');
    const t = await upstreamAgent(vehicle, randomName('edge'), await tempDir('roadlog-it-upstream-'));
    try {
      // Published as soon as the agent is ready: ready must mean subscribed.
      const r = await pub(vehicle, ['-l'], `${Array.from({ length: 100 }, (_, i) => telemetry(vehicle, i + 1)).join('\n')}\n`);
      expect(r.code, r.out).toBe(0);
      await waitFor(async () => ((await stored(t)) >= 100 ? true : undefined), 15_000, 'the agent to store 100 messages');
    } finally {
      await t.close();
    }
    expect(seqsByVehicle(await readLog(t.dataDir)).get(vehicle)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it('is subscribed when ready: a message published the moment start() resolves is stored', async () => {
    const vehicle = randomName('VH');
    const publisher = await connectClient(upstreamUrl, { clientId: randomName('pub') });
    const t = await upstreamAgent(vehicle, randomName('edge'), await tempDir('roadlog-it-upstream-'));
    try {
      await publisher.publishAsync(topicOf(vehicle), telemetry(vehicle, 1), { qos: 1 });
      await waitFor(async () => ((await stored(t)) >= 1 ? true : undefined), 5_000, 'the agent to store the message');
    } finally {
      await publisher.endAsync();
      await t.close();
    }
  });

  it('gets a message it never acknowledged again from Mosquitto after a restart with the same client id', async () => {
    const vehicle = randomName('VH');
    const clientId = randomName('edge');
    const dataDir = await tempDir('roadlog-it-redeliver-');
    const hung: AppendInput[] = [];
    const first = await upstreamAgent(vehicle, clientId, dataDir, (input) => {
      hung.push(input);
      return new Promise<AppendResult>(() => undefined); // the disk never answers
    });
    const r = await pub(vehicle, ['-m', telemetry(vehicle, 1)]);
    expect(r.code, r.out).toBe(0);
    await waitFor(() => (hung.length > 0 ? true : undefined), 10_000, 'the first agent to receive the message');
    await first.close(); // it goes away without a PUBACK
    expect(await stored(first)).toBe(0);

    const second = await upstreamAgent(vehicle, clientId, dataDir);
    try {
      await waitFor(async () => ((await stored(second)) >= 1 ? true : undefined), 15_000, 'Mosquitto to deliver the message again');
    } finally {
      await second.close();
    }
    const records = await readLog(dataDir);
    expect(records.map((x) => [x.lane, x.key, x.text])).toEqual([['normal', vehicle, telemetry(vehicle, 1)]]);
    expect(hung.map((h) => Buffer.from(h.value).toString())).toEqual([telemetry(vehicle, 1)]);
  });

  it('after a failed append drops the session unacknowledged, reconnects, and stores the message when it comes again', async () => {
    const vehicle = randomName('VH');
    let failures = 0;
    const t = await upstreamAgent(vehicle, randomName('edge'), await tempDir('roadlog-it-retry-'), (input, append) => {
      if (failures < 2) {
        failures += 1;
        return Promise.reject(new Error('injected: the disk said EIO'));
      }
      return append(input);
    });
    try {
      const r = await pub(vehicle, ['-m', telemetry(vehicle, 1)]);
      expect(r.code, r.out).toBe(0);
      await waitFor(async () => ((await stored(t)) >= 1 ? true : undefined), 15_000, 'the message to be stored on its third delivery');
    } finally {
      await t.close();
    }
    expect(failures).toBe(2);
    expect(seqsByVehicle(await readLog(t.dataDir)).get(vehicle)).toEqual([1]);
  });

  it('does not let one vehicle over its quota hold up the others (one ordered upstream stream)', async () => {
    const [flood, calm] = [randomName('VH'), randomName('VH')];
    const clientId = randomName('edge');
    sessions.push(clientId);
    // Log on tmpfs: 200 appends one at a time behind a slow shared disk would measure the disk, not the quota.
    const t = await startAgent({ dataDir: await tempDir('roadlog-it-quota-', MEMORY_DIR), mqtt: { mode: 'client', rateLimit: { messagesPerSecond: 20, burst: 20 }, upstream: { url: upstreamUrl, clientId, topic: 'fleet/+/telemetry' } } });
    const publisher = await connectClient(upstreamUrl, { clientId: randomName('pub') });
    let calmMs: number;
    try {
      await Promise.all(Array.from({ length: 200 }, (_, i) => publisher.publishAsync(topicOf(flood), telemetry(flood, i + 1), { qos: 1 })));
      const t0 = performance.now();
      await publisher.publishAsync(topicOf(calm), telemetry(calm, 1), { qos: 1 });
      // Other tests may publish on the shared Mosquitto too: count only this test's vehicles.
      const reader = await t.agent.log.openReader('test-calm');
      const seen = new Map<string, number>();
      const count = async (key: string, n: number): Promise<true | undefined> => {
        for (let b = await reader.read(); b.records.length > 0; b = await reader.read()) for (const r of b.records) seen.set(r.key, (seen.get(r.key) ?? 0) + 1);
        return (seen.get(key) ?? 0) >= n ? true : undefined;
      };
      await waitFor(() => count(calm, 1), 20_000, "the calm vehicle's message to be stored", 20);
      calmMs = performance.now() - t0;
      await waitFor(() => count(flood, 200), 20_000, "the flooding vehicle's 200 messages to be stored");
    } finally {
      await publisher.endAsync();
      await t.close();
    }
    console.log(`client mode, one vehicle 180 messages over a 20/s quota: another vehicle's message stored after ${calmMs.toFixed(0)} ms`);
    // Held behind the flood's quota it would take >= 9 s; behind 200 appends it takes well under 1 s here.
    expect(calmMs).toBeLessThan(3_000);
    const seqs = seqsByVehicle(await readLog(t.dataDir));
    expect(seqs.get(flood)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(seqs.get(calm)).toEqual([1]);
  });
});
