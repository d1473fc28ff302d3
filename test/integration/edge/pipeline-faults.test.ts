import { afterAll, describe, expect, inject, it } from 'vitest';
import { decodeEnvelopeHeaders } from '../../../shared/envelope/index.js';
import type { RequestFault } from '../../support/fault-proxy.js';
import { randomName, testKafka, waitFor } from '../../support/kafka.js';
import { removeTempDirs } from '../../edge/ingress/support/agent.js';
import { startProxiedAgent } from './support/proxied-agent.js';
import { startLoad, waitForEmptyBacklog } from './support/load.js';

/**
 * The pipelined forwarder when single produce requests go wrong: a proxy between the gateway
 * and Kafka delays some requests, drops others with their connection, and lets others reach
 * the broker but resets the connection before the answer comes back (the broker wrote them;
 * the forwarder must not know); in the middle, a dead spell drops every produce request long
 * enough that kafkajs gives up and the forwarder's own re-sending takes over. Every Kafka partition must then hold each vehicle's records
 * in edge order with no gap, and a record twice only as a re-sent copy: the same envelope,
 * the same bytes.
 */
const brokers = inject('kafkaBrokers');
const env = { ROADLOG_HOME: inject('roadlogHome'), ROADLOG_KAFKA_BROKERS: brokers, ROADLOG_LOG_LEVEL: 'error' };
const FAULT_SECONDS = 15 * Number(process.env.ROADLOG_FAULT_SCALE ?? 1);
const DEAD_SECONDS = 10;
const PRODUCE = 0;

afterAll(() => removeTempDirs());

/** While set, every produce request is dropped: long enough that kafkajs's own retries give up and the forwarder's take over. */
let dead = false;

/** One produce request in ten goes wrong, in one of three ways (all of them while `dead`). */
function produceFaults(apiKey: number): RequestFault {
  if (apiKey !== PRODUCE) return { kind: 'pass' };
  if (dead) return { kind: 'reset-before' };
  if (Math.random() >= 0.1) return { kind: 'pass' };
  const pick = Math.floor(Math.random() * 3);
  if (pick === 0) return { kind: 'delay', ms: 50 + Math.random() * 500 };
  if (pick === 1) return { kind: 'reset-before' };
  return { kind: 'reset-after', ms: Math.random() * 30 };
}

describe('forwarder pipeline: faults on single produce requests', () => {
  it(`${FAULT_SECONDS} s of delayed, dropped and unanswered requests and a ${DEAD_SECONDS} s dead spell under load: per-vehicle edge order, no gap, copies identical`, async () => {
    const { agent, port: mqttPort, close, prefix, proxy } = await startProxiedAgent(brokers, env, 'gw-reqfault');
    const load = await startLoad(mqttPort, 30, 20);
    try {
      await waitFor(async () => ((await agent.status()).connected ? true : undefined), 30_000, 'the forwarder connected');
      proxy.requestFault = produceFaults; // new connections from now on cut requests into frames
      proxy.resetAll();
      await new Promise((r) => setTimeout(r, (FAULT_SECONDS * 1000) / 2));
      dead = true;
      await new Promise((r) => setTimeout(r, DEAD_SECONDS * 1000));
      dead = false;
      await new Promise((r) => setTimeout(r, (FAULT_SECONDS * 1000) / 2));
      proxy.requestFault = undefined;
      proxy.resetAll(); // the faulty connections go; new ones pass everything
      await load.stop();
      await waitForEmptyBacklog(agent);

      // Everything the topic holds, in each partition's order.
      const topic = `${prefix}.telemetry.v1`;
      const consumer = testKafka(brokers).consumer({ groupId: randomName('verify') });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const firstCopy = new Map<string, string>();
      const seqs = new Map<string, number[]>();
      const partitionOf = new Map<string, number>();
      let copies = 0;
      let mismatched = 0;
      let read = 0;
      await consumer.run({
        eachMessage: async ({ message, partition }) => {
          read++;
          const env = decodeEnvelopeHeaders(message.headers);
          expect(env).toBeDefined();
          const id = `${env!.edgeLane}/${env!.edgePartition}/${env!.edgeOffset}`;
          const bytes = message.value!.toString('base64');
          const seen = firstCopy.get(id);
          if (seen !== undefined) {
            copies++;
            if (seen !== bytes) mismatched++;
            return;
          }
          firstCopy.set(id, bytes);
          const { vehicleId, seq } = JSON.parse(message.value!.toString()) as { vehicleId: string; seq: number };
          expect(partitionOf.get(vehicleId) ?? partition, vehicleId).toBe(partition);
          partitionOf.set(vehicleId, partition);
          const list = seqs.get(vehicleId);
          if (list === undefined) seqs.set(vehicleId, [seq]);
          else list.push(seq);
        },
      });
      try {
        await waitFor(() => ([...load.acked].every(([id, s]) => (seqs.get(id)?.length ?? 0) >= s.length) ? true : undefined), 120_000, 'every acknowledged message in Kafka');
      } finally {
        await consumer.disconnect();
      }
      // Each vehicle's first copies are its acknowledged messages, in order, none missing.
      for (const [id, acked] of load.acked) expect(seqs.get(id)!.slice(0, acked.length), id).toEqual(acked);
      expect(mismatched).toBe(0);
      const faults = proxy.requestFaults;
      expect(faults['reset-before'] + faults['reset-after'], 'faults were injected').toBeGreaterThan(0);
      // Single faults are mostly retried inside kafkajs (same request, same sequence numbers); the dead spell reaches the forwarder.
      const text = await agent.registry.metrics();
      const failed = [...text.matchAll(/roadlog_edge_forward_failures_total\{[^}]*\} (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
      expect(failed, 'requests failed past kafkajs and the forwarder sent them again').toBeGreaterThan(0);
      console.log(`request faults: ${JSON.stringify(faults)} in ${FAULT_SECONDS} s and a ${DEAD_SECONDS} s dead spell; ${failed} failed requests sent again by the forwarder; ${load.total()} acknowledged messages all in Kafka in edge order; ${read} records read, ${copies} re-sent copies, all byte-identical`);
    } finally {
      await load.stop().catch(() => undefined);
      await close();
    }
  }, (FAULT_SECONDS + DEAD_SECONDS) * 1000 + 240_000);
});
