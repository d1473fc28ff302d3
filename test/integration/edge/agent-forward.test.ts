import type { KafkaMessage } from 'kafkajs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { decodeEnvelopeHeaders, EnvelopeDedup } from '../../../shared/envelope/index.js';
import { runCli } from '../../support/cli.js';
import { randomName, testKafka, waitFor } from '../../support/kafka.js';
import { connectClient, removeTempDirs, startAgentProcess, tempDir, telemetry, topicOf } from '../../edge/ingress/support/agent.js';
import { waitForEmptyBacklog } from './support/load.js';

/**
 * The agent as a gateway runs it (the built CLI, `roadlog edge start` with `kafka.brokers`):
 * MQTT in, Kafka out, `roadlog edge status` and heartbeats telling where the data is.
 */
const brokers = inject('kafkaBrokers');
const env = { ROADLOG_HOME: inject('roadlogHome'), ROADLOG_KAFKA_BROKERS: brokers, ROADLOG_LOG_LEVEL: 'error' };
const kafka = testKafka(brokers);

afterAll(() => removeTempDirs());

type Consumed = KafkaMessage & { partition: number };

async function consume(topic: string, until: (got: Consumed[]) => boolean, timeoutMs = 60_000): Promise<Consumed[]> {
  const consumer = kafka.consumer({ groupId: randomName('verify') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got: Consumed[] = [];
  await consumer.run({ eachMessage: async ({ message, partition }) => void got.push(Object.assign(message, { partition })) });
  try {
    await waitFor(() => (until(got) ? true : undefined), timeoutMs, `records on ${topic}`);
  } finally {
    await consumer.disconnect();
  }
  return got;
}

describe('edge agent with a forwarder (built CLI, real Kafka)', () => {
  it('forwards what vehicles publish, in order per vehicle, reports an empty backlog and sends heartbeats', async () => {
    const prefix = randomName('af');
    const apply = await runCli(['topics', 'apply', '--prefix', prefix], { env });
    expect(apply.code, apply.stderr).toBe(0);
    const dir = await tempDir();
    const agent = await startAgentProcess(
      dir,
      { gatewayId: 'gw-af', dataDir: dir, mqtt: { host: '127.0.0.1', port: 0, allowAnonymous: true }, http: { port: 0 }, log: { partitions: 4 }, forwarder: { heartbeatIntervalMs: 500 } },
      20_000,
      { kafka: { brokers: [brokers] }, topics: { prefix } },
    );
    try {
      const vehicles = 20;
      const perVehicle = 50;
      const clients = await Promise.all(Array.from({ length: vehicles }, (_, v) => connectClient(`mqtt://127.0.0.1:${agent.port}`, { clientId: `VH-${v}` })));
      await Promise.all(
        clients.map(async (c, v) => {
          for (let seq = 0; seq < perVehicle; seq++) await c.publishAsync(topicOf(`VH-${v}`), telemetry(`VH-${v}`, seq), { qos: 1 });
        }),
      );
      await Promise.all(clients.map((c) => c.endAsync()));
      const messages = await consume(`${prefix}.telemetry.v1`, (got) => got.length >= vehicles * perVehicle);
      const dedup = new EnvelopeDedup();
      const seqs = new Map<string, number[]>();
      for (const m of messages) {
        const envelope = decodeEnvelopeHeaders(m.headers);
        expect(envelope?.gatewayId).toBe('gw-af');
        if (dedup.isDuplicate('telemetry', m.partition, m.headers)) continue;
        const { vehicleId, seq } = JSON.parse(m.value!.toString()) as { vehicleId: string; seq: number };
        expect(m.key!.toString()).toBe(vehicleId);
        seqs.set(vehicleId, [...(seqs.get(vehicleId) ?? []), seq]);
      }
      expect(seqs.size).toBe(vehicles);
      for (const [v, s] of seqs) expect(s, v).toEqual(Array.from({ length: perVehicle }, (_, i) => i));

      // Where is the data: nothing waiting, Kafka connected.
      await waitForEmptyBacklog(agent, 20_000);
      const status = await runCli(['edge', 'status', '--url', agent.httpUrl], { env });
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toMatch(/^forwarder\s+running$/m);
      expect(status.stdout).toMatch(/^kafka\s+connected/m);
      expect(status.stdout).toMatch(/^backlog\s+0 records, 0 bytes/m);
      expect(status.stdout).toMatch(/^in flight\s+0 batches, 0 requests, 0 records$/m);
      expect(status.stdout).toMatch(/^latency\s+PUBACK → Kafka ack, 1000 records since start: p50 ≤ \d+(\.\d+)? m?s, p99 ≤ /m);
      const json = await runCli(['edge', 'status', '--url', agent.httpUrl, '--json'], { env });
      expect(JSON.parse(json.stdout)).toMatchObject({ gatewayId: 'gw-af', forwarder: 'running', forwardedRecords: vehicles * perVehicle });
      const metrics = await (await fetch(`${agent.httpUrl}/metrics`)).text();
      expect(metrics).toMatch(/roadlog_edge_forwarded_records_total\{lane="normal",gateway="gw-af"\} 1000/);
      expect(metrics).toMatch(/roadlog_edge_forwarder_drain_records_per_second\{gateway="gw-af"\} \d/);
      expect(metrics).toMatch(/roadlog_edge_forward_latency_seconds_count\{gateway="gw-af"\} 1000/);
      expect(metrics).toMatch(/roadlog_edge_forward_latency_seconds_bucket\{le="\+Inf",gateway="gw-af"\} 1000/);
      expect(metrics).toMatch(/roadlog_edge_forwarder_inflight_batches\{gateway="gw-af"\} 0/);
      expect(metrics).toMatch(/roadlog_edge_forwarder_inflight_requests\{gateway="gw-af"\} 0/);

      // Heartbeats: compacted topic, key = gateway id, value = the same status.
      const beats = await consume(`${prefix}.gateway-status.v1`, (got) => got.some((m) => (JSON.parse(m.value!.toString()) as { forwardedRecords: number }).forwardedRecords === 1000));
      expect(beats.every((m) => m.key!.toString() === 'gw-af')).toBe(true);
      expect(JSON.parse(beats.at(-1)!.value!.toString())).toMatchObject({ gatewayId: 'gw-af', connected: true, backlog: { records: 0 } });
    } finally {
      expect((await agent.stop()).code).toBe(0);
    }
  }, 120_000);

  it('`roadlog edge status` names the URL when no agent answers', async () => {
    const r = await runCli(['edge', 'status', '--url', 'http://127.0.0.1:9'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^roadlog: ROADLOG_ERR_SERVICE_NOT_RUNNING no edge agent answers at http:\/\/127\.0\.0\.1:9\/status/);
  });
});
