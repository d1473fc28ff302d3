import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { waitFor } from '../../support/kafka.js';
import { connectClient, readLog, removeTempDirs, seqsByVehicle, startAgent, telemetry, topicOf, type TestAgent } from './support/agent.js';

/**
 * MQTT over WebSocket goes through the same packet-size guard as TCP: a packet may span many
 * WebSocket frames, each under the frame limit, so the frame limit alone bounds nothing.
 * Each test has its own agent.
 */
const MAX_PACKET = 8_192;
afterAll(removeTempDirs);

async function wsAgent(): Promise<{ t: TestAgent; wsUrl: string }> {
  const t = await startAgent({ mqtt: { allowAnonymous: true, maxPacketBytes: MAX_PACKET, websocket: { port: 0 } } });
  return { t, wsUrl: t.agent.listeners.find((l) => l.protocol === 'ws')!.url };
}

async function rejects(t: TestAgent, reason: string): Promise<number> {
  const text = await t.agent.registry.getSingleMetricAsString('roadlog_edge_rejects_total');
  return Number(new RegExp(`reason="${reason}"[^}]*} (\\d+)`).exec(text)?.[1] ?? 0);
}

/** QoS 1 publishes of `seqs` from mqtt.js over ws://, each acknowledged before the next. */
async function publishOverWs(wsUrl: string, clientId: string, seqs: number[]): Promise<void> {
  const c = await connectClient(wsUrl, { clientId, username: 'VH-WS' });
  for (const seq of seqs) await c.publishAsync(topicOf('VH-WS'), telemetry('VH-WS', seq), { qos: 1 });
  await c.endAsync();
}

describe('ingress over WebSocket', () => {
  it('stores QoS 1 publishes from mqtt.js over ws://', async () => {
    const { t, wsUrl } = await wsAgent();
    try {
      await publishOverWs(wsUrl, 'ws-1', Array.from({ length: 20 }, (_, i) => i + 1));
      await t.close();
      expect(seqsByVehicle(await readLog(t.dataDir)).get('VH-WS')).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    } finally {
      await t.close();
    }
  });

  it('closes a connection whose packet declares more than maxPacketBytes, sent in small frames, and keeps serving the other clients', async () => {
    const { t, wsUrl } = await wsAgent();
    try {
      await publishOverWs(wsUrl, 'ws-before', [1]);
      const ws = new WebSocket(wsUrl, 'mqtt');
      ws.on('error', () => undefined);
      await new Promise((resolve) => ws.once('open', resolve));
      let closed = false;
      ws.on('close', () => (closed = true));
      ws.send(Buffer.from([0x10, 13, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 60, 0, 1, 0x77])); // CONNECT, client id "w"
      ws.send(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x30])); // PUBLISH declaring 100 MiB
      let sent = 0;
      for (; sent < 2_000 && !closed; sent++) {
        ws.send(Buffer.alloc(4_000, 0x41)); // each frame well under the limit
        if (sent % 50 === 0) await new Promise((r) => setTimeout(r, 5));
      }
      await waitFor(() => (closed ? true : undefined), 10_000, 'the agent to close the WebSocket');
      expect(sent).toBeLessThan(2_000);
      expect(await rejects(t, 'packet_too_large')).toBe(1);
      await publishOverWs(wsUrl, 'ws-after', [2]);
      await t.close();
      expect(seqsByVehicle(await readLog(t.dataDir)).get('VH-WS')).toEqual([1, 2]);
    } finally {
      await t.close();
    }
  });
});
