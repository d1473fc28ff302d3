import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { killBroker, restartBroker, startKafkaCluster, stopKafkaCluster, type KafkaClusterInfo } from '../../../infra/kafka/cluster.js';
import { EnvelopeDedup } from '../../../shared/envelope/index.js';
import { runCli } from '../../support/cli.js';
import { randomName, testKafka, waitFor } from '../../support/kafka.js';
import { connectClient, removeTempDirs, startAgentProcess, tempDir, telemetry, topicOf, type AgentProcess } from '../../edge/ingress/support/agent.js';

/**
 * Kafka goes away under load and comes back: the gateway keeps acknowledging into its log,
 * says where the data is, and drains when Kafka returns; every acknowledged message arrives,
 * in order per vehicle. Its own 1-node cluster, so stopping it disturbs no other test.
 * `npm test`: 30 s at 500 msg/s. `npm run test:faults` (ROADLOG_FAULT_SCALE=25): 10 min at 1k msg/s.
 */
const scale = Number(process.env.ROADLOG_FAULT_SCALE ?? 1);
const OUTAGE_MS = scale > 1 ? 600_000 : 30_000;
const VEHICLES = 50;
const PER_VEHICLE_HZ = scale > 1 ? 20 : 10;

let dir: string;
let cluster: KafkaClusterInfo;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'roadlog-outage-'));
  cluster = await startKafkaCluster({ nodes: 1, dir: join(dir, 'kafka') });
}, 120_000);

afterAll(async () => {
  if (cluster !== undefined) await stopKafkaCluster(cluster.dir).catch(() => undefined);
  await removeTempDirs();
  rmSync(dir, { recursive: true, force: true });
});

interface StatusBody {
  connected: boolean;
  backlog: { records: number; oldestIngestAgeSeconds?: number; drainRate: number };
}

async function status(agent: AgentProcess): Promise<StatusBody> {
  return (await (await fetch(`${agent.httpUrl}/status`)).json()) as StatusBody;
}

describe('forwarder: Kafka outage under load', () => {
  it(`keeps acknowledging through a ${OUTAGE_MS / 1000} s outage, then drains: 0 lost, order kept, RSS bounded`, async () => {
    const brokers = cluster.bootstrapServers;
    const nodeId = cluster.brokers[0]!.nodeId;
    const env = { ROADLOG_HOME: inject('roadlogHome'), ROADLOG_KAFKA_BROKERS: brokers, ROADLOG_LOG_LEVEL: 'error' };
    const prefix = randomName('outage');
    const apply = await runCli(['topics', 'apply', '--prefix', prefix], { env });
    expect(apply.code, apply.stderr).toBe(0);
    const data = await tempDir();
    const agent = await startAgentProcess(
      data,
      { gatewayId: 'gw-outage', dataDir: data, mqtt: { host: '127.0.0.1', port: 0, allowAnonymous: true }, http: { port: 0 }, forwarder: { retry: { initialMs: 100, maxMs: 2_000 }, heartbeatIntervalMs: 1_000 } },
      20_000,
      { kafka: { brokers: [brokers], requestTimeoutMs: 5_000, connectionTimeoutMs: 1_000 }, topics: { prefix } },
    );
    const acked = new Map<string, number[]>();
    const clients: MqttClient[] = [];
    let publishing = true;
    let ackedDuringOutage = 0;
    let inOutage = false;
    const loops: Promise<void>[] = [];
    try {
      for (let v = 0; v < VEHICLES; v++) {
        const id = `VH-${v}`;
        const c = await connectClient(`mqtt://127.0.0.1:${agent.port}`, { clientId: id });
        clients.push(c);
        acked.set(id, []);
        loops.push(
          (async () => {
            for (let seq = 0; publishing; seq++) {
              const t0 = Date.now();
              await c.publishAsync(topicOf(id), telemetry(id, seq), { qos: 1 });
              acked.get(id)!.push(seq);
              if (inOutage) ackedDuringOutage++;
              await new Promise((r) => setTimeout(r, Math.max(0, 1000 / PER_VEHICLE_HZ - (Date.now() - t0))));
            }
          })(),
        );
      }
      await waitFor(async () => ((await status(agent)).connected ? true : undefined), 30_000, 'the forwarder connected');
      await new Promise((r) => setTimeout(r, 3_000));

      await killBroker(cluster.dir, nodeId, 'SIGKILL');
      inOutage = true;
      const rssStart = await agent.rss();
      let rssMax = rssStart;
      const outageEnds = Date.now() + OUTAGE_MS;
      while (Date.now() < outageEnds) {
        await new Promise((r) => setTimeout(r, 1_000));
        rssMax = Math.max(rssMax, await agent.rss());
      }
      const during = await status(agent);
      expect(during.connected).toBe(false);
      expect(during.backlog.records).toBeGreaterThan(0);
      expect(during.backlog.oldestIngestAgeSeconds).toBeGreaterThan(OUTAGE_MS / 1000 / 2);
      inOutage = false;

      await restartBroker(cluster.dir, nodeId);
      // Drained while the live traffic goes on: the backlog is down to what the last moments added.
      const drainStart = Date.now();
      await waitFor(async () => {
        const s = await status(agent);
        return s.connected && s.backlog.records < VEHICLES * PER_VEHICLE_HZ ? true : undefined;
      }, 120_000, 'the backlog drained under live traffic');
      const drainMs = Date.now() - drainStart;
      publishing = false;
      await Promise.all(loops);
      await Promise.all(clients.map((c) => c.endAsync()));
      await waitFor(async () => {
        const s = await status(agent);
        return s.connected && s.backlog.records === 0 ? true : undefined;
      }, 120_000, 'an empty backlog');

      const total = [...acked.values()].reduce((n, s) => n + s.length, 0);
      const kafka = testKafka(brokers);
      const consumer = kafka.consumer({ groupId: randomName('outage-verify') });
      await consumer.connect();
      await consumer.subscribe({ topic: `${prefix}.telemetry.v1`, fromBeginning: true });
      const dedup = new EnvelopeDedup();
      const seen = new Map<string, number[]>();
      let unique = 0;
      await consumer.run({
        eachMessage: async ({ message, partition }) => {
          if (dedup.isDuplicate('telemetry', partition, message.headers)) return;
          const { vehicleId, seq } = JSON.parse(message.value!.toString()) as { vehicleId: string; seq: number };
          seen.set(vehicleId, [...(seen.get(vehicleId) ?? []), seq]);
          unique++;
        },
      });
      await waitFor(() => (unique >= total ? true : undefined), 120_000, `${total} records in Kafka`);
      await consumer.disconnect();
      for (const [id, seqs] of acked) {
        const got = seen.get(id) ?? [];
        // Every acknowledged message, in order; (a message published but not yet acknowledged when the load stopped may follow).
        expect(got.slice(0, seqs.length), id).toEqual(seqs);
      }
      console.log(
        `outage ${OUTAGE_MS / 1000} s at ${VEHICLES * PER_VEHICLE_HZ} msg/s offered: ${total} acknowledged (${ackedDuringOutage} during the outage), all in Kafka; ` +
          `${dedup.duplicates} re-sent copies dropped by the dedup key; backlog drained ${(drainMs / 1000).toFixed(1)} s after the broker was back (live traffic still flowing); agent RSS ${(rssStart / 2 ** 20).toFixed(0)} → max ${(rssMax / 2 ** 20).toFixed(0)} MiB`,
      );
      expect(ackedDuringOutage).toBeGreaterThan((VEHICLES * PER_VEHICLE_HZ * OUTAGE_MS) / 1000 / 2);
      expect(rssMax - rssStart).toBeLessThan(64 * 2 ** 20);
    } finally {
      publishing = false;
      for (const c of clients) c.end(true);
      expect((await agent.stop()).code).toBe(0);
    }
  }, OUTAGE_MS + 300_000);
});
