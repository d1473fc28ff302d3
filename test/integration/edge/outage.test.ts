import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { killBroker, restartBroker, startKafkaCluster, stopKafkaCluster, type KafkaClusterInfo } from '../../../infra/kafka/cluster.js';
import { runCli } from '../../support/cli.js';
import { randomName, waitFor } from '../../support/kafka.js';
import { removeTempDirs, startAgentProcess, tempDir } from '../../edge/ingress/support/agent.js';
import { agentStatus, readBack, startLoad, waitForEmptyBacklog } from './support/load.js';

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
    const load = await startLoad(agent.port, VEHICLES, PER_VEHICLE_HZ);
    try {
      await waitFor(async () => ((await agentStatus(agent)).connected ? true : undefined), 30_000, 'the forwarder connected');
      await new Promise((r) => setTimeout(r, 3_000));

      await killBroker(cluster.dir, nodeId, 'SIGKILL');
      const ackedBeforeOutage = load.total();
      const rssStart = await agent.rss();
      let rssMax = rssStart;
      const outageEnds = Date.now() + OUTAGE_MS;
      while (Date.now() < outageEnds) {
        await new Promise((r) => setTimeout(r, 1_000));
        rssMax = Math.max(rssMax, await agent.rss());
      }
      const during = await agentStatus(agent);
      expect(during.connected).toBe(false);
      expect(during.backlog.records).toBeGreaterThan(0);
      expect(during.backlog.oldestIngestAgeSeconds).toBeGreaterThan(OUTAGE_MS / 1000 / 2);
      const ackedDuringOutage = load.total() - ackedBeforeOutage;

      await restartBroker(cluster.dir, nodeId);
      // Drained while the live traffic goes on: the backlog is down to what the last moments added.
      const drainStart = Date.now();
      await waitFor(async () => {
        const s = await agentStatus(agent);
        return s.connected && s.backlog.records < VEHICLES * PER_VEHICLE_HZ ? true : undefined;
      }, 120_000, 'the backlog drained under live traffic');
      const drainMs = Date.now() - drainStart;
      await load.stop();
      await waitForEmptyBacklog(agent);

      const { seqs, copies } = await readBack(brokers, `${prefix}.telemetry.v1`, load.acked);
      // Every acknowledged message, in order (a message published but not yet acknowledged when the load stopped may follow).
      for (const [id, acked] of load.acked) expect(seqs.get(id)!.slice(0, acked.length), id).toEqual(acked);
      console.log(
        `outage ${OUTAGE_MS / 1000} s at ${VEHICLES * PER_VEHICLE_HZ} msg/s offered: ${load.total()} acknowledged (${ackedDuringOutage} during the outage), all in Kafka; ` +
          `${copies} re-sent copies dropped by the dedup key; backlog drained ${(drainMs / 1000).toFixed(1)} s after the broker was back (live traffic still flowing); agent RSS ${(rssStart / 2 ** 20).toFixed(0)} → max ${(rssMax / 2 ** 20).toFixed(0)} MiB`,
      );
      expect(ackedDuringOutage).toBeGreaterThan((VEHICLES * PER_VEHICLE_HZ * OUTAGE_MS) / 1000 / 2);
      expect(rssMax - rssStart).toBeLessThan(64 * 2 ** 20);
    } finally {
      await load.stop().catch(() => undefined);
      expect((await agent.stop()).code).toBe(0);
    }
  }, OUTAGE_MS + 300_000);
});
