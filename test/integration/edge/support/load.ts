import type { MqttClient } from 'mqtt';
import { EnvelopeDedup } from '../../../../shared/envelope/index.js';
import { randomName, testKafka, waitFor } from '../../../support/kafka.js';
import { connectClient, telemetry, topicOf, type AgentProcess } from '../../../edge/ingress/support/agent.js';

export interface Load {
  /** Seqs acknowledged (PUBACK) per vehicle, in order. */
  acked: Map<string, number[]>;
  total(): number;
  stop(): Promise<void>;
}

/** `vehicles` mqtt.js clients, QoS 1, one message in flight each, `hz` messages per second each. */
export async function startLoad(port: number, vehicles: number, hz: number): Promise<Load> {
  const acked = new Map<string, number[]>();
  const clients: MqttClient[] = [];
  let running = true;
  const loops: Promise<void>[] = [];
  for (let v = 0; v < vehicles; v++) {
    const id = `VH-${v}`;
    const c = await connectClient(`mqtt://127.0.0.1:${port}`, { clientId: id });
    clients.push(c);
    acked.set(id, []);
    loops.push(
      (async () => {
        for (let seq = 0; running; seq++) {
          const t0 = Date.now();
          await c.publishAsync(topicOf(id), telemetry(id, seq), { qos: 1 });
          acked.get(id)!.push(seq);
          await new Promise((r) => setTimeout(r, Math.max(0, 1000 / hz - (Date.now() - t0))));
        }
      })(),
    );
  }
  return {
    acked,
    total: () => [...acked.values()].reduce((n, s) => n + s.length, 0),
    stop: async () => {
      running = false;
      await Promise.all(loops);
      await Promise.all(clients.map((c) => c.endAsync()));
    },
  };
}

export interface AgentStatus {
  connected: boolean;
  backlog: { records: number; oldestIngestAgeSeconds?: number; drainRate: number };
}

export async function agentStatus(agent: AgentProcess): Promise<AgentStatus> {
  return (await (await fetch(`${agent.httpUrl}/status`)).json()) as AgentStatus;
}

/** Until the forwarder is connected with nothing waiting: of an agent process (its /status) or an in-process agent. */
export async function waitForEmptyBacklog(agent: AgentProcess | { status(): Promise<AgentStatus> }, timeoutMs = 120_000): Promise<void> {
  await waitFor(async () => {
    const s = 'httpUrl' in agent ? await agentStatus(agent) : await agent.status();
    return s.connected && s.backlog.records === 0 ? true : undefined;
  }, timeoutMs, 'an empty backlog');
}

/**
 * Reads the topic from the beginning until every acknowledged seq is there (copies with the
 * same envelope dropped); returns the seqs per vehicle in Kafka order and the copies dropped.
 */
export async function readBack(brokers: string, topic: string, acked: Map<string, number[]>, timeoutMs = 120_000): Promise<{ seqs: Map<string, number[]>; copies: number }> {
  const consumer = testKafka(brokers).consumer({ groupId: randomName('verify') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const dedup = new EnvelopeDedup();
  const seqs = new Map<string, number[]>();
  await consumer.run({
    eachMessage: async ({ message, partition }) => {
      if (dedup.isDuplicate(topic, partition, message.headers)) return;
      const { vehicleId, seq } = JSON.parse(message.value!.toString()) as { vehicleId: string; seq: number };
      const list = seqs.get(vehicleId);
      if (list === undefined) seqs.set(vehicleId, [seq]);
      else list.push(seq);
    },
  });
  try {
    await waitFor(() => ([...acked].every(([id, s]) => (seqs.get(id)?.length ?? 0) >= s.length) ? true : undefined), timeoutMs, 'every acknowledged message in Kafka');
  } finally {
    await consumer.disconnect();
  }
  return { seqs, copies: dedup.duplicates };
}
