import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { runCli } from '../../support/cli.js';
import { rng } from '../log/support/random.js';
import { connectClient, readLog, removeTempDirs, seqsByVehicle, startAgentProcess, telemetry, tempDir, topicOf, TEST_LOG } from '../ingress/support/agent.js';

/**
 * The agent's promise, end to end: PUBACK means durable. The built CLI runs `edge start` as a
 * child; N mqtt.js vehicles publish at QoS 1 (a window of messages in flight each) and we note
 * every PUBACK; SIGKILL at a random moment; again on the same data dir. At the end the log
 * holds every acknowledged (vehicle, seq), once, in per-vehicle order. Each cycle's start is
 * also a reopening after a kill (stale lock, torn tails).
 * ROADLOG_FAULT_SCALE multiplies the cycles (`npm run test:faults`).
 */
const CYCLES = 20 * Number(process.env.ROADLOG_FAULT_SCALE ?? 1);
const VEHICLES = ['VH-K0', 'VH-K1', 'VH-K2', 'VH-K3'];
const WINDOW = 8;

afterAll(removeTempDirs);

/** Publish from `client` with up to WINDOW in flight until `stop()`; `onAck` for every PUBACK. */
function load(client: MqttClient, vehicle: string, nextSeq: () => number, onAck: (seq: number) => void, stopped: () => boolean): void {
  const one = (): void => {
    if (stopped()) return;
    const seq = nextSeq();
    client.publish(topicOf(vehicle), telemetry(vehicle, seq), { qos: 1 }, (err) => {
      if (err !== undefined && err !== null) return; // not acknowledged (connection lost)
      onAck(seq);
      one();
    });
  };
  for (let i = 0; i < WINDOW; i++) one();
}

describe('edge agent under kill -9', () => {
  it(`loses no acknowledged message across ${CYCLES} SIGKILLs under QoS 1 load`, { timeout: 60_000 + CYCLES * 10_000 }, async () => {
    const dir = await tempDir('roadlog-agent-kill9-');
    const r = rng(Number(process.env.ROADLOG_KILL_SEED ?? 17));
    const sent = new Map(VEHICLES.map((v) => [v, 0]));
    const acked = new Map(VEHICLES.map((v) => [v, new Set<number>()]));
    const perCycle: number[] = [];
    const t0 = Date.now();
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const agent = await startAgentProcess(dir, { gatewayId: 'gw-kill9', dataDir: dir, log: TEST_LOG, http: { port: 0 }, mqtt: { host: '127.0.0.1', port: 0, allowAnonymous: true } });
      const url = `mqtt://127.0.0.1:${agent.port}`;
      let stopped = false;
      let acks = 0;
      const clients = await Promise.all(VEHICLES.map((v) => connectClient(url, { clientId: `${v}-${cycle}`, username: v })));
      clients.forEach((c, i) => {
        c.on('error', () => undefined);
        const v = VEHICLES[i]!;
        load(c, v, () => sent.set(v, sent.get(v)! + 1).get(v)!, (seq) => (acked.get(v)!.add(seq), (acks += 1)), () => stopped);
      });
      await new Promise((resolve) => setTimeout(resolve, Math.floor(r() * 600)));
      agent.child.kill('SIGKILL');
      const { signal } = await agent.exited;
      stopped = true;
      for (const c of clients) c.end(true);
      expect(signal, agent.output.stderr).toBe('SIGKILL');
      perCycle.push(acks);
    }
    const loadMs = Date.now() - t0;

    const records = await readLog(dir);
    const seqs = seqsByVehicle(records);
    const problems: string[] = [];
    for (const v of VEHICLES) {
      const inLog = seqs.get(v) ?? [];
      for (let i = 1; i < inLog.length; i++) if (inLog[i]! <= inLog[i - 1]!) problems.push(`${v}: seq ${inLog[i]} after ${inLog[i - 1]}`);
      const present = new Set(inLog);
      const lost = [...acked.get(v)!].filter((s) => !present.has(s));
      if (lost.length > 0) problems.push(`${v}: ${lost.length} acknowledged seqs missing, e.g. ${lost.slice(0, 5).join(', ')}`);
    }
    const totalAcked = VEHICLES.reduce((n, v) => n + acked.get(v)!.size, 0);
    console.log(
      `agent kill -9: ${CYCLES} cycles in ${loadMs} ms, ${totalAcked} PUBACKs (per cycle min ${Math.min(...perCycle)}, max ${Math.max(...perCycle)}), ${records.length} records in the log (${records.length - totalAcked} stored but not acknowledged before the kill), problems: ${problems.length}`,
    );
    expect(problems).toEqual([]);
    expect(records.filter((x) => x.lane === 'dead')).toEqual([]);
    expect(perCycle.filter((n) => n > 0).length).toBeGreaterThan(CYCLES / 2); // the kills did land under load
    const verify = await runCli(['log', 'verify', join(dir, 'log')]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });
});
