import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../support/kafka.js';
import { ManualClock } from './support/clock.js';
import { MEMORY_DIR, connectClient, tempDir, readLog, removeTempDirs, seqsByVehicle, startAgent, telemetry, topicOf } from './support/agent.js';

/**
 * The per-vehicle quota delays a vehicle over its rate (its PUBACKs come later) without
 * dropping anything, and does not hold up the other vehicles. The quota runs on a clock the
 * test moves by hand, so what is acknowledged when follows from the quota alone, not from the
 * machine's speed. How fast the others stay under a flood is a figure, measured by the ingest
 * bench's quota phase (test/bench/README.md).
 */
afterAll(removeTempDirs);

async function throttled(registry: { getSingleMetricAsString(name: string): Promise<string> }): Promise<number> {
  return Number(/^roadlog_edge_throttled_total\S* (\d+)$/m.exec(await registry.getSingleMetricAsString('roadlog_edge_throttled_total'))?.[1] ?? 0);
}

describe('ingress per-vehicle quota', () => {
  it('throttles a flooding vehicle to its rate, keeps all its messages in order, and leaves another vehicle unthrottled', { timeout: 60_000 }, async () => {
    const clock = new ManualClock();
    // Log on tmpfs: this test is about the quota; a slow fsync on a busy disk would only add noise.
    const t = await startAgent({ dataDir: await tempDir('roadlog-quota-', MEMORY_DIR), mqtt: { allowAnonymous: true, rateLimit: { messagesPerSecond: 20, burst: 20 } } }, { quotaClock: clock });
    try {
      const flood = await connectClient(t.url, { clientId: 'flood', username: 'VH-FLOOD' });
      const calm = await connectClient(t.url, { clientId: 'calm', username: 'VH-CALM' });
      const N = 200;
      let acked = 0;
      const flooding = Promise.all(Array.from({ length: N }, (_, i) => flood.publishAsync(topicOf('VH-FLOOD'), telemetry('VH-FLOOD', i + 1), { qos: 1 }).then(() => acked++)));
      const ackedNow = (n: number) => () => (acked >= n ? acked : undefined);

      // The clock stands still: the burst is acknowledged, the other 180 wait.
      await waitFor(async () => ((await throttled(t.agent.registry)) === N - 20 ? true : undefined), 20_000, 'the flood past its burst to be throttled');
      await waitFor(ackedNow(20), 20_000, 'the burst to be acknowledged');
      // Meanwhile the calm vehicle is acknowledged: it does not wait behind the flood.
      const CALM = 10;
      let calmAcked = 0;
      void (async () => {
        for (let seq = 1; seq <= CALM; seq++) await calm.publishAsync(topicOf('VH-CALM'), telemetry('VH-CALM', seq), { qos: 1 }).then(() => calmAcked++);
      })();
      await waitFor(() => (calmAcked === CALM ? true : undefined), 20_000, 'the calm vehicle to be acknowledged while the flood waits');
      expect(acked).toBe(20);
      expect(await throttled(t.agent.registry)).toBe(N - 20);

      // Then 20 a second: message 20 + k is due at k × 50 ms.
      await clock.advance(1_025);
      expect(await waitFor(ackedNow(40), 20_000, '40 acknowledgments after 1 s')).toBe(40);
      await clock.advance(8_975 - 1_025); // the 200th is due at 9 s
      expect(await waitFor(ackedNow(199), 20_000, '199 acknowledgments after 8.975 s')).toBe(199);
      await clock.advance(25);
      await flooding;
      expect(acked).toBe(N);

      await flood.endAsync();
      await calm.endAsync();
      await t.close();
      const seqs = seqsByVehicle(await readLog(t.dataDir));
      expect(seqs.get('VH-FLOOD')).toEqual(Array.from({ length: N }, (_, i) => i + 1));
      expect(seqs.get('VH-CALM')).toEqual(Array.from({ length: CALM }, (_, i) => i + 1));
    } finally {
      await clock.advance(60_000); // whatever a failed test left waiting, so close() need not wait for it
      await t.close();
    }
  });
});
