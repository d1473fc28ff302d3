import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { Telemetry } from '../../../shared/schema/index.js';
import type { FaultInterval, LinkLoss } from '../../../simulators/model.js';
import { runCli, startCli } from '../../support/cli.js';
import { scoreAlerts, type VehicleTruthInput } from '../../support/alert-truth.js';
import { testKafka, waitFor } from '../../support/kafka.js';
import { startProxiedAgent } from '../edge/support/proxied-agent.js';
import { readAlertEvents } from './support.js';

/**
 * The whole chain against the simulator's truth: simulated vehicles (the `roadlog sim` CLI)
 * → an edge agent → Kafka → `roadlog hot start` with the default rule pack. Every fault the
 * telemetry can show has an alert of its category in its interval, and every alert falls in
 * a fault interval of its category (precision = recall = 1.0), with the gateway's uplink cut
 * for a while in the middle: what the backlog held is evaluated in event time when it
 * arrives, and its alerts are flagged late. (`npm run test:e2e` runs it at full size.)
 */
const brokers = inject('kafkaBrokers');
const env = { ROADLOG_HOME: inject('roadlogHome'), ROADLOG_KAFKA_BROKERS: brokers, ROADLOG_LOG_LEVEL: 'warn' };
const kafka = testKafka(brokers);
const VEHICLES = Number(process.env.ROADLOG_TRUTH_VEHICLES ?? 60);
const DEVICE_MINUTES = Number(process.env.ROADLOG_TRUTH_MINUTES ?? 30);
/**
 * Device time runs this much faster than the wall clock. At most 40: each vehicle sends SPEEDUP
 * msg/s, under the agent's default quota of 50 msg/s per vehicle (a throttled vehicle falls
 * behind the others and looks silent in device time). Wall-clock jitter is multiplied by it too:
 * 2 s of delay at the gateway is 60 s of device time, the absence rule's limit.
 */
const SPEEDUP = 30;
const OUTAGE_WALL_MS = Number(process.env.ROADLOG_TRUTH_OUTAGE_MS ?? 8_000);
const dirs: string[] = [];

afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

interface TruthLine {
  type: string;
  vehicleId: string;
}

describe('hot path against the simulator truth (sim → edge agent → Kafka → hot)', () => {
  it(`${VEHICLES} vehicles, ${DEVICE_MINUTES} min of device time, an uplink outage: precision = recall = 1.0, backlog alerts late`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hot-truth-'));
    dirs.push(dir);
    const agent = await startProxiedAgent(brokers, env, 'gw-truth');
    const hot = startCli(['hot', 'start', '--instance', 'truth', '--http-port', '0'], { env: { ...env, ROADLOG_TOPICS_PREFIX: agent.prefix } });
    try {
      await waitFor(() => (/^http /m.test(hot.output.stdout) ? true : hot.child.exitCode !== null ? Promise.reject(new Error(hot.output.stderr)) : undefined), 60_000, 'hot to start');
      const truthFile = join(dir, 'truth.jsonl');
      const messagesFile = join(dir, 'messages.jsonl');
      const sim = runCli(['sim', '--vehicles', String(VEHICLES), '--seed', '21', '--broker', `mqtt://127.0.0.1:${agent.port}`, '--duration', `${DEVICE_MINUTES}m`, '--speedup', String(SPEEDUP), '--truth', truthFile, '--messages', messagesFile, '--progress', 'none'], { timeoutMs: 600_000, env });
      // The uplink goes dark for a while in the middle of the run.
      const runWallMs = (DEVICE_MINUTES * 60_000) / SPEEDUP;
      await new Promise((r) => setTimeout(r, runWallMs * 0.4));
      agent.proxy.mode = 'blackhole';
      await new Promise((r) => setTimeout(r, OUTAGE_WALL_MS));
      agent.proxy.mode = 'pass';
      const done = await sim;
      expect(done.code, done.stderr).toBe(0);
      // Everything acknowledged reaches Kafka, then the hot path.
      await waitFor(async () => ((await agent.agent.status()).backlog.records === 0 ? true : undefined), 120_000, 'the agent to drain its backlog');
      const truth = (await readFile(truthFile, 'utf8')).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as TruthLine & Record<string, unknown>);
      const messages = new Map<string, Telemetry[]>();
      for (const line of (await readFile(messagesFile, 'utf8')).split('\n')) {
        if (line === '') continue;
        const t = JSON.parse(line) as Telemetry;
        (messages.get(t.vehicleId) ?? messages.set(t.vehicleId, []).get(t.vehicleId)!).push(t);
      }
      const inputs: VehicleTruthInput[] = truth
        .filter((l) => l.type === 'vehicle')
        .map((v) => ({
          vehicleId: v.vehicleId,
          faults: truth.filter((l) => l.type === 'fault' && l.vehicleId === v.vehicleId) as unknown as FaultInterval[],
          linkLosses: truth.filter((l) => l.type === 'link_loss' && l.vehicleId === v.vehicleId) as unknown as LinkLoss[],
          messages: messages.get(v.vehicleId) ?? [],
        }));
      const url = /^http (\S+)$/m.exec(hot.output.stdout)![1]!;
      // Caught up: the hot path has evaluated every telemetry record in Kafka and committed their alerts (its committed offsets at the ends).
      const admin = kafka.admin();
      await admin.connect();
      const ends = await admin.fetchTopicOffsets(`${agent.prefix}.telemetry.v1`);
      await admin.disconnect();
      let last = '';
      await waitFor(async () => {
        const s = (await (await fetch(`${url}/status`)).json()) as { partitions: { partition: number; committed: string }[] };
        last = JSON.stringify(s);
        return ends.every((e) => BigInt(s.partitions.find((p) => p.partition === e.partition)?.committed ?? '0') >= BigInt(e.high)) ? true : undefined;
      }, 120_000, 'the hot path to read every record').catch((err: unknown) => {
        throw new Error(`${String(err)}; ends ${JSON.stringify(ends)}; hot status ${last}; hot stderr ${hot.output.stderr.slice(-3000)}`);
      });
      const events = await readAlertEvents(kafka, `${agent.prefix}.alerts.v1`, 1, 60_000, 3_000);
      // Undisturbed (the outage is the agent's): no transaction of the hot path failed, so none was evaluated twice.
      expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/^roadlog_hot_transactions_aborted_total(\{[^}]*\})? 0$/m);
      const score = scoreAlerts(inputs, events);
      expect(score.observable, JSON.stringify(score.byCategory)).toBeGreaterThan(5);
      expect(score.misses, JSON.stringify(score.byCategory)).toEqual([]);
      expect(score.falseAlerts, JSON.stringify(score.byCategory)).toEqual([]);
      // What waited out the outage at the edge was evaluated when it came, in event time, and said so.
      const late = events.filter((e) => e.change === 'opened' && e.late);
      expect(late.length, `${events.length} events`).toBeGreaterThan(0);
      expect(late.every((e) => e.lateByMs > 5_000)).toBe(true);
    } finally {
      hot.child.kill('SIGTERM');
      await hot.exited;
      await agent.close();
    }
  });
});
