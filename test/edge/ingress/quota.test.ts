import { afterAll, describe, expect, it } from 'vitest';
import { MEMORY_DIR, connectClient, tempDir, percentile, readLog, removeTempDirs, seqsByVehicle, startAgent, telemetry, topicOf } from './support/agent.js';

/**
 * The per-vehicle quota delays a vehicle over its rate (its PUBACKs come later) without
 * dropping anything, and does not slow the other vehicles down. Bounds are functional
 * (a token bucket of 20/s with a burst of 20 cannot ack 200 messages in under 9 s), with
 * generous slack on the side that depends on machine speed.
 */
afterAll(removeTempDirs);

describe('ingress per-vehicle quota', () => {
  it('throttles a flooding vehicle to its rate, keeps all its messages in order, and leaves another vehicle fast', { timeout: 90_000 }, async () => {
    // Log on tmpfs: this test is about the throttle; a slow fsync on a busy disk would only add noise.
    const t = await startAgent({ dataDir: await tempDir('roadlog-quota-', MEMORY_DIR), mqtt: { allowAnonymous: true, rateLimit: { messagesPerSecond: 20, burst: 20 } } });
    try {
      const flood = await connectClient(t.url, { clientId: 'flood', username: 'VH-FLOOD' });
      const calm = await connectClient(t.url, { clientId: 'calm', username: 'VH-CALM' });
      const N = 200;
      const t0 = performance.now();
      const ackAt: number[] = [];
      const flooding = Promise.all(
        Array.from({ length: N }, (_, i) => flood.publishAsync(topicOf('VH-FLOOD'), telemetry('VH-FLOOD', i + 1), { qos: 1 }).then(() => ackAt.push(performance.now() - t0))),
      );
      // The calm vehicle publishes one message at a time, 10 a second, while the flood lasts.
      const latencies: number[] = [];
      let seq = 0;
      let flooded = false;
      void flooding.then(() => (flooded = true));
      while (!flooded) {
        const s = performance.now();
        await calm.publishAsync(topicOf('VH-CALM'), telemetry('VH-CALM', ++seq), { qos: 1 });
        latencies.push(performance.now() - s);
        await new Promise((r) => setTimeout(r, 100));
      }
      await flooding;
      const last = Math.max(...ackAt);
      const calmP99 = percentile(latencies, 99);
      console.log(`quota: ${N} flood acks: first ${ackAt[0]!.toFixed(0)} ms, 20th ${[...ackAt].sort((a, b) => a - b)[19]!.toFixed(0)} ms, last ${last.toFixed(0)} ms; calm vehicle ${latencies.length} acks, p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${calmP99.toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`);
      // (N - burst) / rate = 9 s; a little under for timer granularity; the upper bound is only "not stuck".
      expect(last).toBeGreaterThanOrEqual(8_500);
      expect(last).toBeLessThan(30_000);
      expect(latencies.length).toBeGreaterThanOrEqual(40);
      expect(calmP99).toBeLessThan(200);
      await flood.endAsync();
      await calm.endAsync();
      await t.close();
      const seqs = seqsByVehicle(await readLog(t.dataDir));
      expect(seqs.get('VH-FLOOD')).toEqual(Array.from({ length: N }, (_, i) => i + 1));
      expect(seqs.get('VH-CALM')).toEqual(Array.from({ length: seq }, (_, i) => i + 1));
    } finally {
      await t.close();
    }
  });
});
