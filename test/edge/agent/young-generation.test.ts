import { afterAll, describe, expect, it } from 'vitest';
import { YoungGenerationGovernor } from '../../../edge/agent/young-generation.js';
import { isEdgeStart } from '../../../shared/cli/early.js';
import { waitFor } from '../../support/kafka.js';
import { connectClient, removeTempDirs, startAgentProcess, telemetry, tempDir, topicOf, TEST_LOG } from '../ingress/support/agent.js';

afterAll(removeTempDirs);

/** A governor on a fake clock, counter and V8: what it does to the heap, step by step. */
function governed(burst: number, quietSeconds: number) {
  let t = 0;
  let count = 0;
  let pinned = true;
  const changes: boolean[] = [];
  const governor = new YoungGenerationGovernor(
    { burstMessagesPerSecond: burst, quietSeconds },
    () => count,
    (p) => changes.push(p),
    () => t,
    { pin: () => void (pinned = true), release: () => void (pinned = false), pinned: () => pinned },
  );
  /** `rate` messages a second for `seconds`, sampled every 500 ms. */
  const run = (rate: number, seconds: number): void => {
    for (let i = 0; i < seconds * 2; i++) {
      t += 500;
      count += rate / 2;
      governor.sample();
    }
  };
  return { governor, run, changes, pinned: () => pinned };
}

describe('young generation governor', () => {
  it('lets the young generation grow during a burst and pins it again after a quiet spell', () => {
    const g = governed(10_000, 60);
    g.governor.start(60_000); // the interval never fires in this test; sample() is driven by run()
    g.run(1_000, 10);
    expect(g.pinned()).toBe(true);
    g.run(40_000, 1);
    expect(g.pinned()).toBe(false);
    // Above half the burst rate is not quiet: no flapping around the threshold.
    g.run(6_000, 120);
    expect(g.pinned()).toBe(false);
    g.run(1_000, 59);
    expect(g.pinned()).toBe(false);
    g.run(1_000, 1.5);
    expect(g.pinned()).toBe(true);
    expect(g.changes).toEqual([false, true]);
    g.governor.stop();
  });

  it('gives V8 its defaults back when the agent stops', () => {
    const g = governed(10_000, 60);
    g.governor.start(60_000);
    expect(g.pinned()).toBe(true);
    g.governor.stop();
    expect(g.pinned()).toBe(false);
  });

  it('pins at start-up for `edge start` only, global options before it included', () => {
    expect(isEdgeStart(['edge', 'start', '--config', 'x.yaml'])).toBe(true);
    expect(isEdgeStart(['-c', 'edge', 'edge', 'start'])).toBe(true);
    expect(isEdgeStart(['--log-level', 'debug', '-v', 'edge', 'start'])).toBe(true);
    expect(isEdgeStart(['edge', 'status'])).toBe(false);
    expect(isEdgeStart(['hot', '--config', 'edge', 'start'])).toBe(false);
    expect(isEdgeStart(['log', 'dump', 'edge', 'start'])).toBe(false);
    expect(isEdgeStart([])).toBe(false);
  });

  it('with burstMessagesPerSecond 0 releases at start and never pins', () => {
    const g = governed(0, 1);
    g.governor.start();
    expect(g.pinned()).toBe(false);
    g.governor.stop();
  });
});

describe('roadlog edge start and the heap', () => {
  const metric = async (url: string, name: string): Promise<number> => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(name));
    if (line === undefined) throw new Error(`${name} not in /metrics`);
    return Number(line.split(' ').pop());
  };

  it('starts pinned with a young generation of a few MB, releases it for a burst, pins it again when quiet', { timeout: 60_000 }, async () => {
    const dir = await tempDir('roadlog-young-');
    const agent = await startAgentProcess(dir, {
      gatewayId: 'gw-young',
      dataDir: dir,
      log: TEST_LOG,
      http: { port: 0 },
      memory: { burstMessagesPerSecond: 400, quietSeconds: 1 },
      mqtt: { host: '127.0.0.1', port: 0, allowAnonymous: true, rateLimit: { messagesPerSecond: 100_000, burst: 100_000 } },
    });
    try {
      expect(await metric(agent.httpUrl, 'roadlog_edge_young_generation_pinned')).toBe(1);
      // Two semi-spaces of 1 MB when pinned before the modules load; V8's default start is 2 × 8 MB.
      expect(await metric(agent.httpUrl, 'roadlog_nodejs_heap_space_size_total_bytes{space="new"')).toBeLessThanOrEqual(4 * 1024 * 1024);
      const client = await connectClient(`mqtt://127.0.0.1:${agent.port}`, { clientId: 'VH-Y1', username: 'VH-Y1' });
      let seq = 0;
      let publishing = true;
      const burst = async (): Promise<void> => {
        while (publishing) await Promise.all(Array.from({ length: 64 }, () => client.publishAsync(topicOf('VH-Y1'), telemetry('VH-Y1', ++seq), { qos: 1 })));
      };
      const running = burst();
      await waitFor(async () => ((await metric(agent.httpUrl, 'roadlog_edge_young_generation_pinned')) === 0 ? true : undefined), 20_000, 'released during the burst');
      publishing = false;
      await running;
      await waitFor(async () => ((await metric(agent.httpUrl, 'roadlog_edge_young_generation_pinned')) === 1 ? true : undefined), 20_000, 'pinned again after 1 s quiet');
      await client.endAsync();
    } finally {
      expect(await agent.stop()).toEqual({ code: 0, signal: null });
    }
  });

  it('grows as V8 likes with burstMessagesPerSecond 0', { timeout: 30_000 }, async () => {
    const dir = await tempDir('roadlog-young-');
    const agent = await startAgentProcess(dir, { gatewayId: 'gw-young0', dataDir: dir, log: TEST_LOG, http: { port: 0 }, memory: { burstMessagesPerSecond: 0 }, mqtt: { host: '127.0.0.1', port: 0, allowAnonymous: true } });
    try {
      expect(await metric(agent.httpUrl, 'roadlog_edge_young_generation_pinned')).toBe(0);
    } finally {
      await agent.stop();
    }
  });
});
