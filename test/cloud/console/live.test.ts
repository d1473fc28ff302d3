import type { EachBatchPayload, KafkaMessage } from 'kafkajs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerAlertsApi } from '../../../cloud/console/alerts-api.js';
import { LiveFeeds, type ConsoleKafka, type FeedChange } from '../../../cloud/console/feeds.js';
import { histogramQuantiles, parsePrometheus } from '../../../shared/metrics/index.js';
import { groupLags } from '../../../cloud/console/lag.js';
import type { TopicReaders } from '../../../cloud/console/reader.js';
import { buildConsoleApi } from '../../../cloud/console/server.js';
import type { User } from '../../../cloud/console/users.js';
import type { AlertEvent } from '../../../shared/alerts/index.js';
import { createLogger } from '../../../shared/logging/index.js';

/**
 * The console's live side without a broker: the feeds read alert events and heartbeats from
 * batches a stand-in consumer hands them (the real one is in test/integration/console/); the
 * health page's Prometheus parsing; the groups' lag from stand-in offsets and records.
 */
const logger = createLogger({ level: 'silent', format: 'json', name: 'test' });

function event(id: number, change: AlertEvent['change'], detectedAt: number, over: Partial<AlertEvent> = {}): AlertEvent {
  const state = change === 'cleared' || change === 'operator-cleared' ? 'cleared' : change === 'acked' ? 'ack' : 'open';
  return { alertId: id.toString(16).padStart(32, '0'), vehicleId: 'V1', gatewayId: 'gw-1', rule: 'coolant-high', subject: '', category: 'overheating', severity: 'critical', state, change, openedAt: 1_000_000, clearedAt: null, detectedAt, value: 112, threshold: 110, message: 'coolantC 112 > 110', late: false, lateByMs: 0, ack: null, operatorClear: null, ...over };
}

const message = (value: unknown, key = 'k', offset = 0, timestamp = 0): KafkaMessage => ({ key: Buffer.from(key), value: value === null ? null : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)), offset: String(offset), timestamp: String(timestamp), attributes: 0, headers: {} }) as KafkaMessage;

/** Feeds over a consumer that hands over whatever batches the test gives it. */
async function feedsWithBatches(now: () => number): Promise<{ feeds: LiveFeeds; batch(topic: string, messages: KafkaMessage[]): Promise<void> }> {
  let eachBatch: ((p: EachBatchPayload) => Promise<void>) | undefined;
  const consumer = { on() {}, events: { CRASH: 'crash' }, connect: async () => {}, subscribe: async () => {}, disconnect: async () => {}, run: async (o: { eachBatch: typeof eachBatch }) => void (eachBatch = o.eachBatch) };
  const kafka: ConsoleKafka = async () => ({ kafka: { consumer: () => consumer } as never, topic: (t) => `p.${t}` });
  const feeds = new LiveFeeds(kafka, { recentClearedMs: 3_600_000, offlineAfterMs: 60_000, logger, now });
  feeds.start();
  await expect.poll(() => eachBatch !== undefined).toBe(true);
  return { feeds, batch: (topic, messages) => eachBatch!({ batch: { topic, partition: 0, messages, highWatermark: '0' } } as unknown as EachBatchPayload) };
}

describe('live feeds', () => {
  it('an alert is its newest event; the detection delay is its opening event\'s; cleared ones leave after the window; junk is skipped', async () => {
    let clock = 2_000_000;
    const { feeds, batch } = await feedsWithBatches(() => clock);
    const changes: FeedChange[] = [];
    feeds.listen((c) => changes.push(c));
    expect(feeds.problem).toBeUndefined();
    await batch('p.alerts', [message(event(1, 'opened', 1_000_400)), message('not json'), message({ alertId: 'x' }), message(event(2, 'opened', 1_000_900, { openedAt: 1_000_500 }))]);
    await batch('p.alerts', [message(event(1, 'acked', 1_500_000, { ack: { by: 'olga', at: 1_500_000 } }))]);
    expect(feeds.alerts().map((a) => [a.alertId.slice(-1), a.state, a.detectionDelayMs])).toEqual([['2', 'open', 400], ['1', 'ack', 400]]);
    expect(changes.map((c) => (c.kind === 'alerts' ? c.alerts.map((a) => a.change) : c.kind))).toEqual([['opened', 'opened'], ['acked']]);
    await batch('p.alerts', [message(event(2, 'cleared', 2_000_000, { openedAt: 1_000_500, clearedAt: 1_999_000 }))]);
    expect(feeds.alert(event(2, 'cleared', 0).alertId)?.state).toBe('cleared');
    clock = 2_000_000 + 3_600_001;
    expect(feeds.alerts().map((a) => a.alertId.slice(-1))).toEqual(['1']);
    await feeds.stop();
  });

  it('gateways: the latest heartbeat each, offline once silent past the limit, ages counted to now, a tombstone removes one', async () => {
    let clock = 10_000_000;
    const { feeds, batch } = await feedsWithBatches(() => clock);
    const beat = (gatewayId: string, at: number, records: number) => ({ gatewayId, at, connected: true, backlog: { records, bytes: records * 100, oldestIngestTs: records > 0 ? at - 30_000 : undefined, drainRate: 10, etaSeconds: records > 0 ? records / 10 : undefined }, extra: 'kept' });
    await batch('p.gatewayStatus', [message(beat('gw-1', clock - 5_000, 0), 'gw-1'), message(beat('gw-2', clock - 61_000, 500), 'gw-2'), message('garbage', 'gw-3')]);
    expect(feeds.gateways().map((g) => [g.gatewayId, g.offline, g.backlogRecords, g.oldestUnsentAgeSeconds, g.etaSeconds])).toEqual([['gw-1', false, 0, null, null], ['gw-2', true, 500, 91, 50]]);
    clock += 60_000;
    expect(feeds.gateways().map((g) => g.offline)).toEqual([true, true]);
    await batch('p.gatewayStatus', [message(null, 'gw-2')]);
    expect(feeds.gateways().map((g) => g.gatewayId)).toEqual(['gw-1']);
    await feeds.stop();
  });

  it('the API: alerts and gateways as the feeds hold them; an ack of an unknown alert is 404, a malformed id 400, a viewer\'s 403', async () => {
    const { feeds, batch } = await feedsWithBatches(() => 2_000_000);
    await batch('p.alerts', [message(event(1, 'opened', 1_000_400))]);
    const { setPassword, readUsersFile } = await import('../../../cloud/console/users.js');
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'roadlog-console-live-'));
    await setPassword(join(dir, 'u'), 'olga', 'operator', 'operator-secret');
    await setPassword(join(dir, 'u'), 'vic', 'viewer', 'viewer-secret');
    const users: ReadonlyMap<string, User> = await readUsersFile(join(dir, 'u'));
    const { app, requireRole, sessions } = await buildConsoleApi({ users, registry: new Registry(), secure: false });
    registerAlertsApi(app, { feeds, kafka: async () => undefined, requireRole, sessions, timeoutMs: 1_000 });
    const login = async (user: string, password: string) => {
      const r = await app.inject({ method: 'POST', url: '/api/login', payload: { user, password } });
      return { cookie: String(r.headers['set-cookie']).split(';')[0]!, csrf: (r.json() as { csrfToken: string }).csrfToken };
    };
    const olga = await login('olga', 'operator-secret');
    const vic = await login('vic', 'viewer-secret');
    const list = await app.inject({ url: '/api/alerts', headers: { cookie: vic.cookie } });
    expect((list.json() as { live: boolean; alerts: { alertId: string }[] }).alerts.map((a) => a.alertId)).toEqual([event(1, 'opened', 0).alertId]);
    const post = (who: typeof olga, id: string) => app.inject({ method: 'POST', url: `/api/alerts/${id}/ack`, headers: { cookie: who.cookie, 'x-csrf-token': who.csrf }, payload: {} });
    expect((await post(vic, event(1, 'opened', 0).alertId)).statusCode).toBe(403);
    const unknown = await post(olga, event(9, 'opened', 0).alertId);
    expect([unknown.statusCode, (unknown.json() as { error: { code: string } }).error.code]).toEqual([404, 'ROADLOG_ERR_ALERT_NOT_FOUND']);
    const malformed = await post(olga, 'nope');
    expect([malformed.statusCode, (malformed.json() as { error: { code: string } }).error.code]).toEqual([400, 'ROADLOG_ERR_USAGE']);
    const noKafka = await post(olga, event(1, 'opened', 0).alertId);
    expect([noKafka.statusCode, (noKafka.json() as { error: { code: string } }).error.code]).toEqual([503, 'ROADLOG_ERR_KAFKA_UNAVAILABLE']);
    // The event stream: the alerts first, and it ends when its session logs out.
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const res = await fetch(`${base}/api/stream`, { headers: { cookie: vic.cookie } });
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('event: gateways')) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toMatch(/^event: alerts\ndata: \{"snapshot":true,"live":true/);
    await app.inject({ method: 'POST', url: '/api/logout', headers: { cookie: vic.cookie, 'x-csrf-token': vic.csrf } });
    for (;;) if ((await reader.read()).done) break;
    const stale = await fetch(`${base}/api/stream`, { headers: { cookie: vic.cookie } });
    expect(stale.status).toBe(401);
    await app.close();
    await feeds.stop();
    await rm(dir, { recursive: true, force: true });
  });
});

describe('health: the components\' metrics', () => {
  it('parses the Prometheus text format and takes p50/p99 over every instance\'s buckets', () => {
    const text = [
      '# HELP x_seconds a histogram',
      '# TYPE x_seconds histogram',
      'x_seconds_bucket{le="0.1",component="hot"} 50',
      'x_seconds_bucket{le="1",component="hot"} 90',
      'x_seconds_bucket{le="+Inf",component="hot"} 100',
      'x_seconds_bucket{le="0.1",component="hot",instance="b"} 10',
      'x_seconds_bucket{le="1",component="hot",instance="b"} 100',
      'x_seconds_bucket{le="+Inf",component="hot",instance="b"} 100',
      'x_seconds_count 100',
      'rejects_total{reason="a \\"quoted\\" one"} 3',
      'garbage line',
    ].join('\n');
    const samples = parsePrometheus(text);
    expect(samples.find((s) => s.name === 'rejects_total')?.labels.reason).toBe('a "quoted" one');
    expect(histogramQuantiles(samples, 'x_seconds')).toEqual({ count: 200, p50Seconds: 1, p99Seconds: Infinity });
    expect(histogramQuantiles(samples, 'missing')).toEqual({ count: 0, p50Seconds: null, p99Seconds: null });
  });
});

describe('groups: lag in records and in time', () => {
  it('behind by the newest record\'s time minus the oldest unread one\'s; caught up is 0; no commit counts from the earliest; readers hidden', async () => {
    const ts = (o: number) => 1_000_000 + o * 1000;
    const admin = {
      listGroups: async () => ({ groups: [{ groupId: 'hot', protocolType: 'consumer' }, { groupId: 'cold', protocolType: 'consumer' }, { groupId: 'roadlog-tail-x', protocolType: 'consumer' }] }),
      describeGroups: async (ids: string[]) => ({ groups: ids.map((groupId) => ({ groupId, state: 'Stable', members: [{}] })) }),
      fetchOffsets: async ({ groupId }: { groupId: string }) => [{ topic: 'p.telemetry.v1', partitions: groupId === 'hot' ? [{ partition: 0, offset: '100' }, { partition: 1, offset: '-1' }] : [{ partition: 0, offset: '90' }, { partition: 1, offset: '50' }] }],
      fetchTopicOffsets: async () => [{ partition: 0, low: '0', high: '100' }, { partition: 1, low: '10', high: '50' }],
    };
    const reads: string[] = [];
    const readers = {
      of: () => ({
        read: async (points: { partition: number; from: bigint; count: number }[]) => {
          reads.push(points.map((p) => `${p.partition}@${p.from}`).join(','));
          return new Map(points.map((p) => [p.partition, Array.from({ length: p.count }, (_, i) => message({ ts: ts(Number(p.from) + i) }, 'k', Number(p.from) + i))]));
        },
      }),
    } as unknown as TopicReaders;
    const groups = await groupLags(admin as never, readers, { telemetryTopic: 'p.telemetry.v1', includeReaders: false });
    expect(groups.map((g) => g.groupId)).toEqual(['cold', 'hot']);
    const [cold, hot] = groups;
    expect(hot!.topics[0]!.partitions.map((p) => [p.partition, p.committed, p.lag, p.lagSeconds])).toEqual([[0, '100', 0, 0], [1, null, 40, 39]]);
    expect(cold!.topics[0]!.partitions.map((p) => [p.lag, p.lagSeconds])).toEqual([[10, 9], [0, 0]]);
    expect([hot!.lag, hot!.lagSeconds, hot!.topics[0]!.clock]).toEqual([40, 39, 'device']);
  });
});
