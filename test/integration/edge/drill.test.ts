import { afterAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../../support/cli.js';
import { randomName, waitFor } from '../../support/kafka.js';
import { removeTempDirs, startAgentProcess, tempDir } from '../../edge/ingress/support/agent.js';
import { agentStatus, readBack, startLoad, waitForEmptyBacklog } from './support/load.js';

/**
 * The uplink drill (`edge.http.drills`, what `roadlog demo --outage` uses): `POST
 * /drill/uplink?down=…` cuts every Kafka connection of the agent for that long. The agent goes
 * on acknowledging into its log, the backlog grows and says so, and it drains afterwards.
 */
const brokers = inject('kafkaBrokers');
const env = { ROADLOG_HOME: inject('roadlogHome'), ROADLOG_KAFKA_BROKERS: brokers, ROADLOG_LOG_LEVEL: 'error' };

afterAll(() => removeTempDirs());

describe('edge agent uplink drill (built CLI, real Kafka)', () => {
  it('cuts the uplink for the time asked: acknowledged meanwhile, a backlog, then every message in Kafka', async () => {
    const prefix = randomName('drill');
    const apply = await runCli(['topics', 'apply', '--prefix', prefix], { env });
    expect(apply.code, apply.stderr).toBe(0);
    const dir = await tempDir();
    const agent = await startAgentProcess(dir, { gatewayId: 'gw-drill', dataDir: dir, mqtt: { host: '127.0.0.1', port: 0, allowAnonymous: true }, http: { port: 0, drills: true }, forwarder: { heartbeatIntervalMs: 500, retry: { initialMs: 50, maxMs: 1_000 } } }, 20_000, { kafka: { brokers: [brokers] }, topics: { prefix } });
    const load = await startLoad(agent.port, 5, 20);
    try {
      await waitFor(async () => ((await agentStatus(agent)).connected ? true : undefined), 30_000, 'the forwarder connected');
      const bad = await fetch(`${agent.httpUrl}/drill/uplink?down=soon`, { method: 'POST' });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ error: { code: 'ROADLOG_ERR_USAGE', message: expect.stringMatching(/^down: expected e\.g\. 90s/) } });

      const cut = await fetch(`${agent.httpUrl}/drill/uplink?down=4s`, { method: 'POST' });
      expect(cut.status).toBe(200);
      const body = (await cut.json()) as { down: boolean; downUntil: string };
      expect(body.down).toBe(true);
      expect(Date.parse(body.downUntil) - Date.now()).toBeGreaterThan(3_000);
      const ackedBefore = load.total();
      // Down: vehicles are still acknowledged, into the log, and the forwarder says it is not connected.
      const during = await waitFor(async () => {
        const s = await agentStatus(agent);
        return !s.connected && s.backlog.records >= 50 ? s : undefined;
      }, 4_000, 'a backlog while the uplink is down');
      expect(load.total() - ackedBefore).toBeGreaterThanOrEqual(50);
      expect(during.backlog.records).toBeGreaterThanOrEqual(50);
      // Back up by itself after 4 s: the backlog drains (to what the load keeps in flight).
      await waitFor(async () => {
        const s = await agentStatus(agent);
        return s.connected && s.backlog.records < during.backlog.records / 2 ? true : undefined;
      }, 60_000, 'the backlog to drain');
      // And a cut can be ended early.
      expect((await fetch(`${agent.httpUrl}/drill/uplink?down=1h`, { method: 'POST' })).status).toBe(200);
      await waitFor(async () => (!(await agentStatus(agent)).connected ? true : undefined), 5_000, 'the second cut');
      expect(await (await fetch(`${agent.httpUrl}/drill/uplink?down=0`, { method: 'POST' })).json()).toEqual({ down: false });
      await load.stop();
      await waitForEmptyBacklog(agent, 60_000);
      const { seqs } = await readBack(brokers, `${prefix}.telemetry.v1`, load.acked);
      for (const [id, acked] of load.acked) expect(seqs.get(id), id).toEqual(acked);
    } finally {
      await load.stop();
      expect((await agent.stop()).code).toBe(0);
    }
  }, 120_000);

  it('is not there unless edge.http.drills is set', async () => {
    const dir = await tempDir();
    const agent = await startAgentProcess(dir, { gatewayId: 'gw-nodrill', dataDir: dir, mqtt: { host: '127.0.0.1', port: 0, allowAnonymous: true }, http: { port: 0 } }, 20_000, { kafka: { brokers: [brokers] }, topics: { prefix: randomName('nodrill') } });
    try {
      expect((await fetch(`${agent.httpUrl}/drill/uplink?down=4s`, { method: 'POST' })).status).toBe(404);
    } finally {
      expect((await agent.stop()).code).toBe(0);
    }
  });
});
