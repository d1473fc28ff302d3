import { afterAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { waitFor } from '../../support/kafka.js';
import { connectClient, readLog, removeTempDirs, seqsByVehicle, startAgentProcess, telemetry, tempDir, topicOf, TEST_LOG } from '../ingress/support/agent.js';

/**
 * A clean stop (SIGTERM to `roadlog edge start`) while 20 vehicles keep publishing at QoS 1:
 * the agent stops taking publishes, lets the ones being stored finish, and exits 0 promptly
 * (not after its 5 s drain deadline), with every acknowledged message in the log.
 */
const VEHICLES = Array.from({ length: 20 }, (_, i) => `VH-S${i}`);

afterAll(removeTempDirs);

describe('edge agent clean stop', () => {
  it('stops within 2 s under continuous QoS 1 load, every PUBACKed message stored', { timeout: 60_000 }, async () => {
    const dir = await tempDir('roadlog-agent-stop-');
    const agent = await startAgentProcess(dir, { gatewayId: 'gw-stop', dataDir: dir, log: TEST_LOG, http: { port: 0 }, mqtt: { host: '127.0.0.1', port: 0, allowAnonymous: true, rateLimit: { messagesPerSecond: 100_000, burst: 100_000 } } });
    const acked = new Map(VEHICLES.map((v) => [v, [] as number[]]));
    let stopped = false;
    const clients: MqttClient[] = await Promise.all(VEHICLES.map((v) => connectClient(`mqtt://127.0.0.1:${agent.port}`, { clientId: v, username: v })));
    clients.forEach((c, k) => {
      c.on('error', () => undefined);
      const v = VEHICLES[k]!;
      let seq = 0;
      const one = (): void => {
        if (stopped) return;
        const s = ++seq;
        c.publish(topicOf(v), telemetry(v, s), { qos: 1 }, (err) => {
          if (err !== undefined && err !== null) return;
          acked.get(v)!.push(s);
          one();
        });
      };
      for (let i = 0; i < 4; i++) one();
    });
    // Stop in the middle of real load: once every vehicle has had acknowledgments.
    await waitFor(() => ([...acked.values()].every((a) => a.length >= 20) ? true : undefined), 30_000, 'acks from every vehicle');
    const t0 = performance.now();
    agent.child.kill('SIGTERM');
    const exit = await agent.exited;
    const stopMs = performance.now() - t0;
    stopped = true;
    for (const c of clients) c.end(true);
    const total = [...acked.values()].reduce((n, a) => n + a.length, 0);
    console.log(`clean stop under load: exit ${exit.code} after ${stopMs.toFixed(0)} ms, ${total} PUBACKs from ${VEHICLES.length} vehicles`);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(stopMs).toBeLessThan(2_000);
    const seqs = seqsByVehicle(await readLog(dir));
    for (const v of VEHICLES) {
      const inLog = seqs.get(v) ?? [];
      expect(inLog.slice(0, acked.get(v)!.length), v).toEqual([...acked.get(v)!].sort((a, b) => a - b));
      expect(inLog.every((s, i) => s === i + 1), v).toBe(true);
    }
  });
});
