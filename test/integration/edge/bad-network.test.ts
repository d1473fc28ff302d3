import { afterAll, describe, expect, inject, it } from 'vitest';
import { waitFor } from '../../support/kafka.js';
import { removeTempDirs } from '../../edge/ingress/support/agent.js';
import { startProxiedAgent } from './support/proxied-agent.js';
import { readBack, startLoad, waitForEmptyBacklog } from './support/load.js';

/**
 * The forwarder behind a bad network: every connection to Kafka goes through a TCP proxy that
 * adds delay, resets connections and black-holes traffic at random, under MQTT load. Nothing
 * acknowledged is lost and each vehicle's order holds.
 */
const brokers = inject('kafkaBrokers');
const env = { ROADLOG_HOME: inject('roadlogHome'), ROADLOG_KAFKA_BROKERS: brokers, ROADLOG_LOG_LEVEL: 'error' };
const FAULT_SECONDS = 20 * Number(process.env.ROADLOG_FAULT_SCALE ?? 1);

afterAll(() => removeTempDirs());

describe('forwarder: delay, reset and black hole between the gateway and Kafka', () => {
  it(`${FAULT_SECONDS} s of random network faults under load: 0 lost, order kept`, async () => {
    const { agent, port: mqttPort, close, prefix, proxy } = await startProxiedAgent(brokers, env, 'gw-badnet');
    const load = await startLoad(mqttPort, 20, 20);
    const faults: Record<string, number> = { pass: 0, delay: 0, blackhole: 0, reset: 0 };
    try {
      await waitFor(async () => ((await agent.status()).connected ? true : undefined), 30_000, 'the forwarder connected');
      const until = Date.now() + FAULT_SECONDS * 1000;
      while (Date.now() < until) {
        const pick = ['pass', 'delay', 'blackhole', 'reset'][Math.floor(Math.random() * 4)]!;
        faults[pick]!++;
        if (pick === 'reset') {
          proxy.mode = 'pass';
          proxy.resetAll();
        } else {
          proxy.mode = pick as 'pass' | 'delay' | 'blackhole';
          proxy.delayMs = 150 + Math.random() * 400;
        }
        // Black holes sometimes outlast kafkajs's own retries, so the forwarder's retry runs too.
        await new Promise((r) => setTimeout(r, pick === 'blackhole' ? 2_000 + Math.random() * 6_000 : 500 + Math.random() * 2_000));
      }
      proxy.mode = 'pass';
      await load.stop();
      await waitForEmptyBacklog(agent);
      const { seqs, copies } = await readBack(brokers, `${prefix}.telemetry.v1`, load.acked);
      for (const [id, acked] of load.acked) expect(seqs.get(id)!.slice(0, acked.length), id).toEqual(acked);
      const failures = /roadlog_edge_forward_failures_total\{[^}]*\} (\d+)/g;
      const text = await agent.registry.metrics();
      const failed = [...text.matchAll(failures)].reduce((n, m) => n + Number(m[1]), 0);
      console.log(`bad network: ${JSON.stringify(faults)} for ${FAULT_SECONDS} s; ${proxy.connections} proxied connections; ${failed} failed sends retried; ${load.total()} acknowledged messages all in Kafka in order; ${copies} re-sent copies dropped`);
    } finally {
      await load.stop().catch(() => undefined);
      await close();
    }
  }, FAULT_SECONDS * 1000 + 240_000);
});
