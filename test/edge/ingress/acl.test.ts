import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { waitFor } from '../../support/kafka.js';
import { connectClient, credentialsFile, readLog, removeTempDirs, startAgent, telemetry, tempDir, topicOf, type TestAgent } from './support/agent.js';

/**
 * Who may publish and subscribe where, checked with mqtt.js against a real in-process agent
 * (credentials file, no anonymous access): a vehicle publishes only to its own topic; a
 * refused publish closes the connection without PUBACK and stores nothing; wildcard and $SYS
 * subscriptions get SUBACK 128.
 */
let t: TestAgent;
const SECRETS = { 'VH-A': 'secret-of-a', 'VH-B': 'secret-of-b' };

beforeAll(async () => {
  const dir = await tempDir();
  t = await startAgent({ mqtt: { credentialsFile: await credentialsFile(dir, SECRETS) } });
});
afterAll(async () => {
  await t?.close();
  await removeTempDirs();
});

const login = (vehicle: keyof typeof SECRETS): Promise<MqttClient> => connectClient(t.url, { clientId: `${vehicle}-${Math.random()}`, username: vehicle, password: SECRETS[vehicle] });

function watch(client: MqttClient) {
  const seen = { pubacks: 0, closed: false };
  client.on('packetreceive', (p) => {
    if (p.cmd === 'puback') seen.pubacks += 1;
  });
  client.on('close', () => (seen.closed = true));
  return seen;
}

describe('ingress ACL', () => {
  it('refuses a wrong password and an unknown vehicle at CONNECT', async () => {
    await expect(connectClient(t.url, { username: 'VH-A', password: 'secret-of-b' })).rejects.toThrow(/Bad username or password|Not authorized|closed/);
    await expect(connectClient(t.url, { username: 'VH-Z', password: 'whatever1' })).rejects.toThrow(/Bad username or password|Not authorized|closed/);
    await expect(connectClient(t.url, {})).rejects.toThrow(/Bad username or password|Not authorized|closed/);
  });

  it("refuses vehicle A publishing to B's topic: connection closed, no PUBACK, nothing stored", async () => {
    const a = await login('VH-A');
    const seen = watch(a);
    await a.publishAsync(topicOf('VH-A'), telemetry('VH-A', 1), { qos: 1 }); // its own: acked
    expect(seen.pubacks).toBe(1);
    a.publish(topicOf('VH-B'), telemetry('VH-B', 1), { qos: 1 });
    a.publish(topicOf('VH-B'), telemetry('VH-A', 2), { qos: 1 });
    await waitFor(() => (seen.closed ? true : undefined), 5_000, 'the server to close the connection');
    expect(seen.pubacks).toBe(1);
    a.end(true);

    // Wildcards and $SYS are refused as publish topics too.
    for (const topic of ['fleet/+/telemetry', '$SYS/broker/x', 'fleet/VH-A/other']) {
      const c = await login('VH-A');
      const s = watch(c);
      c.publish(topic, telemetry('VH-A', 3), { qos: 1 });
      await waitFor(() => (s.closed ? true : undefined), 5_000, `the server to close after a publish to ${topic}`);
      expect(s.pubacks, topic).toBe(0);
      c.end(true);
    }

    const b = await login('VH-B'); // B itself is unaffected
    await b.publishAsync(topicOf('VH-B'), telemetry('VH-B', 7), { qos: 1 });
    b.end(true);
  });

  it('grants no subscription to #, $SYS/# or another vehicle (SUBACK 128), but one under its own topic', async () => {
    const a = await login('VH-A');
    // mqtt.js turns 128 into an error; read the SUBACK packets themselves.
    const subacks: number[][] = [];
    a.on('packetreceive', (p) => {
      if (p.cmd === 'suback') subacks.push(p.granted as number[]);
    });
    const filters = ['#', '$SYS/#', 'fleet/+/telemetry', 'fleet/VH-B/#', 'fleet/VH-A/commands'];
    for (const f of filters) await new Promise<void>((resolve) => a.subscribe(f, { qos: 1 }, () => resolve()));
    expect(Object.fromEntries(filters.map((f, i) => [f, subacks[i]]))).toEqual({ '#': [128], '$SYS/#': [128], 'fleet/+/telemetry': [128], 'fleet/VH-B/#': [128], 'fleet/VH-A/commands': [1] });
    await a.endAsync();
  });

  it('stored only what was allowed', async () => {
    await t.close();
    const records = await readLog(t.dataDir);
    expect(records.map((r) => [r.lane, r.key, (JSON.parse(r.text) as { seq: number }).seq]).sort()).toEqual([
      ['normal', 'VH-A', 1],
      ['normal', 'VH-B', 7],
    ]);
  });
});
