import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../../support/cli.js';
import { randomName } from '../../support/kafka.js';
import { connectClient, credentialsFile, mosquittoPub, readLog, removeTempDirs, seqsByVehicle, startAgent, telemetry, tempDir, topicOf, type TestAgent } from '../../edge/ingress/support/agent.js';
import { DEAD_LETTER_HEADER } from '../../../edge/ingress/pipeline.js';

/**
 * The embedded broker with clients nobody here wrote: mqtt.js vehicles publishing at QoS 1
 * (every PUBACKed message is in the log, in order per vehicle, as `roadlog log dump` prints
 * it), and Mosquitto's own `mosquitto_pub` with username and password (valid payloads stored,
 * invalid ones in the dead lane with their reason).
 */
const VEHICLES = Array.from({ length: 6 }, (_, i) => `VH-I${i}`);
const SECRETS = Object.fromEntries(VEHICLES.map((v) => [v, `secret-${v}`]));
let t: TestAgent;

beforeAll(async () => {
  const dir = await tempDir('roadlog-it-ingress-');
  t = await startAgent({ mqtt: { credentialsFile: await credentialsFile(dir, SECRETS), rateLimit: { messagesPerSecond: 10_000, burst: 10_000 } } });
});
afterAll(async () => {
  await t?.close();
  await removeTempDirs();
});

describe('edge ingress with real MQTT clients', () => {
  const acked = new Map<string, number[]>();

  it('stores every message mqtt.js vehicles got a PUBACK for', async () => {
    const PER_VEHICLE = 300;
    await Promise.all(
      VEHICLES.slice(0, 4).map(async (v) => {
        const client = await connectClient(t.url, { clientId: randomName(v), username: v, password: SECRETS[v] });
        const seqs: number[] = [];
        // All in flight at once: mqtt.js writes them in order on one connection.
        await Promise.all(Array.from({ length: PER_VEHICLE }, (_, i) => client.publishAsync(topicOf(v), telemetry(v, i + 1), { qos: 1 }).then(() => seqs.push(i + 1))));
        acked.set(v, seqs);
        await client.endAsync();
      }),
    );
    for (const v of VEHICLES.slice(0, 4)) expect(acked.get(v)).toHaveLength(PER_VEHICLE);
  });

  it('stores QoS 2 publishes once each (PUBREC after the append, then PUBREL/PUBCOMP)', async () => {
    const v = VEHICLES[3]!;
    const client = await connectClient(t.url, { clientId: randomName(v), username: v, password: SECRETS[v] });
    for (let seq = 301; seq <= 330; seq++) await client.publishAsync(topicOf(v), telemetry(v, seq), { qos: 2 });
    await client.endAsync();
    acked.set(v, [...acked.get(v)!, ...Array.from({ length: 30 }, (_, i) => 301 + i)]);
  });

  it('stores what mosquitto_pub publishes with -u/-P, and refuses a wrong password', async () => {
    const v = VEHICLES[4]!;
    const lines = Array.from({ length: 50 }, (_, i) => telemetry(v, i + 1)).join('\n');
    const pub = await mosquittoPub(['-h', '127.0.0.1', '-p', String(t.port), '-i', randomName('mp'), '-u', v, '-P', SECRETS[v]!, '-q', '1', '-t', topicOf(v), '-l'], `${lines}\n`);
    expect(pub.code, pub.out).toBe(0);
    acked.set(v, Array.from({ length: 50 }, (_, i) => i + 1));
    const bad = await mosquittoPub(['-h', '127.0.0.1', '-p', String(t.port), '-u', v, '-P', 'wrong-secret', '-q', '1', '-t', topicOf(v), '-m', telemetry(v, 999)]);
    expect(bad.code).not.toBe(0);
    expect(bad.out).toMatch(/not authori[sz]ed|bad user name or password|refused/i);
  });

  it('puts invalid payloads from mosquitto_pub in the dead lane with the reason', async () => {
    const v = VEHICLES[5]!;
    const send = (message: string) => mosquittoPub(['-h', '127.0.0.1', '-p', String(t.port), '-u', v, '-P', SECRETS[v]!, '-q', '1', '-t', topicOf(v), '-m', message]);
    for (const m of ['not json at all', JSON.stringify({ v: 1, vehicleId: v, seq: 'one' }), telemetry('VH-SOMEONE-ELSE', 1), JSON.stringify({ pad: 'x'.repeat(20_000) })]) {
      const r = await send(m);
      expect(r.code, r.out).toBe(0); // acknowledged: the device must stop retrying
    }
  });

  it('has it all in the log after close, as `roadlog log dump` prints it', async () => {
    await t.close();
    // stdout to a file: through a pipe, `roadlog log dump` can lose its tail (process.exit before the pipe drains; ~1 run in 30).
    const out = join(t.dataDir, 'dump.jsonl');
    const fd = openSync(out, 'w');
    const dump = spawnSync(process.execPath, [CLI, 'log', 'dump', join(t.dataDir, 'log')], { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' });
    closeSync(fd);
    expect(dump.status, dump.stderr).toBe(0);
    const dumped = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { lane: string; key: string; value?: string });
    const fromDump = new Map<string, number[]>();
    for (const d of dumped.filter((x) => x.lane !== 'dead')) fromDump.set(d.key, [...(fromDump.get(d.key) ?? []), (JSON.parse(d.value!) as { seq: number }).seq]);
    for (const v of VEHICLES.slice(0, 5)) expect(fromDump.get(v), v).toEqual(acked.get(v));

    const records = await readLog(t.dataDir);
    expect(seqsByVehicle(records)).toEqual(fromDump);
    const dead = records.filter((r) => r.lane === 'dead');
    expect(dead.map((r) => [r.key, r.h[DEAD_LETTER_HEADER.reason], r.h[DEAD_LETTER_HEADER.topic]])).toEqual(
      ['not_json', 'schema', 'vehicle_mismatch', 'oversize'].map((reason) => [VEHICLES[5], reason, topicOf(VEHICLES[5]!)]),
    );
    expect(dead[0]!.text).toBe('not json at all');
    expect(dead.every((r) => (r.h[DEAD_LETTER_HEADER.message] ?? '').length > 0)).toBe(true);
  });
});
