import type { FastifyInstance } from 'fastify';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import { DEAD_LETTER_HEADER } from '../../shared/envelope/index.js';
import { RoadlogError } from '../../shared/errors/index.js';
import { disconnectQuietly, withDeadline } from '../../shared/kafka/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { partitionForKey } from '../../shared/partitioner/index.js';
import { toTailRecord, type TailRecord } from '../tail/format.js';
import type { ConsoleKafka } from './feeds.js';
import { groupLags } from './lag.js';
import { TopicReaders } from './reader.js';
import type { Sessions } from './sessions.js';
import { eventStream } from './stream.js';

/**
 * The event browser's API (the seeds' "browser to look at the events"):
 * - `GET /api/topics`: every topic with its partitions, replication and records held;
 *   `GET /api/topics/:name`: its partitions (leader, replicas, ISR, earliest and latest offsets)
 *   and configs, as `roadlog topics describe`.
 * - `GET /api/groups[?readers=1]`: consumer groups with their lag in records and in time
 *   (cloud/console/lag.ts); the throw-away groups of readers only when asked.
 * - `GET /api/records?topic&partition&offset&limit`: records from an offset (default: the last
 *   `limit` of the partition), as `roadlog tail --format json` prints them (UTF-8 text or
 *   base64, headers as text).
 * - `GET /api/find?vehicle=V`: the vehicle's key → its telemetry partition → its latest records.
 * - `GET /api/dead-letters?limit`: the newest dead letters of every partition, with their
 *   reason, error code and message from the headers, and the raw bytes.
 * - `GET /api/tail?topic&key`: server-sent events, one `record` per record as it arrives.
 */
export interface EventsApiOptions {
  kafka: ConsoleKafka;
  sessions: Sessions;
  logger: Logger;
  timeoutMs: number;
}

const MAX_LIMIT = 500;
/** Live tails at once (each is a consumer in its own group). */
const MAX_TAILS = 8;

export function registerEventsApi(app: FastifyInstance, o: EventsApiOptions): { admin(): Promise<Admin>; close(): Promise<void> } {
  let client: Promise<{ kafka: Kafka; admin: Admin; readers: TopicReaders; topic: (role: 'telemetry' | 'deadLetters') => string }> | undefined;
  const connect = () => {
    client ??= (async () => {
      const k = await o.kafka();
      if (k === undefined) throw new RoadlogError('ROADLOG_ERR_KAFKA_UNAVAILABLE', 'the console has no Kafka connection (see its log)');
      const admin = k.kafka.admin();
      await withDeadline(() => admin.connect(), o.timeoutMs, 'console');
      return { kafka: k.kafka, admin, readers: new TopicReaders(k.kafka, o.logger), topic: k.topic };
    })().catch((err: unknown) => {
      client = undefined;
      throw err;
    });
    return client;
  };
  let tails = 0;
  const deadline = <T>(op: () => Promise<T>, what: string) => withDeadline(op, o.timeoutMs, `console: ${what}`);

  app.get('/api/topics', async () => {
    const { admin } = await connect();
    const { listTopics } = await import('../admin/topics.js');
    const names = await deadline(() => listTopics(admin), 'listing topics');
    if (names.length === 0) return { topics: [] };
    const meta = await deadline(() => admin.fetchTopicMetadata({ topics: names }), 'listing topics');
    const offsets = await Promise.all(names.map((n) => deadline(() => admin.fetchTopicOffsets(n), 'listing topics')));
    return {
      topics: meta.topics
        .map((t) => {
          const ends = offsets[names.indexOf(t.name)] ?? [];
          return { topic: t.name, partitions: t.partitions.length, replicationFactor: t.partitions[0]?.replicas.length ?? 0, records: ends.reduce((n, e) => n + Number(BigInt(e.high) - BigInt(e.low)), 0), endOffsets: ends.reduce((n, e) => n + Number(e.high), 0) };
        })
        .sort((a, b) => a.topic.localeCompare(b.topic)),
    };
  });

  app.get<{ Params: { name: string } }>('/api/topics/:name', { schema: { params: { type: 'object', properties: { name: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,249}$' } } } } }, async (req) => {
    const { admin } = await connect();
    const { describeTopic } = await import('../admin/topics.js');
    return deadline(() => describeTopic(admin, req.params.name), `describing ${req.params.name}`);
  });

  app.get<{ Querystring: { readers?: '0' | '1' } }>('/api/groups', { schema: { querystring: { type: 'object', additionalProperties: false, properties: { readers: { type: 'string', enum: ['0', '1'] } } } } }, async (req) => {
    const { admin, readers, topic } = await connect();
    return { groups: await deadline(() => groupLags(admin, readers, { telemetryTopic: topic('telemetry'), includeReaders: req.query.readers === '1' }), 'reading the groups') };
  });

  app.get<{ Querystring: { topic: string; partition: number; offset?: string; limit?: number } }>('/api/records', {
    schema: {
      querystring: {
        type: 'object',
        additionalProperties: false,
        required: ['topic', 'partition'],
        properties: { topic: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,249}$' }, partition: { type: 'integer', minimum: 0 }, offset: { type: 'string', pattern: '^[0-9]{1,19}$' }, limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT } },
      },
    },
  }, async (req) => {
    const { admin, readers } = await connect();
    const q = req.query;
    const end = (await deadline(() => admin.fetchTopicOffsets(q.topic), 'reading records')).find((e) => e.partition === q.partition);
    if (end === undefined) throw new RoadlogError('ROADLOG_ERR_USAGE', `partition: topic ${q.topic} has no partition ${q.partition}`);
    const limit = q.limit ?? 20;
    const low = BigInt(end.low);
    const high = BigInt(end.high);
    let from = q.offset === undefined ? high - BigInt(limit) : BigInt(q.offset);
    if (from < low) from = low;
    const messages = from >= high ? [] : (await readers.of(q.topic).read([{ partition: q.partition, from, count: limit }])).get(q.partition) ?? [];
    return { topic: q.topic, partition: q.partition, earliest: end.low, latest: end.high, from: from.toString(), records: messages.map((m) => toTailRecord(q.topic, q.partition, m)) };
  });

  app.get<{ Querystring: { vehicle: string; limit?: number } }>('/api/find', {
    schema: { querystring: { type: 'object', additionalProperties: false, required: ['vehicle'], properties: { vehicle: { type: 'string', minLength: 1, maxLength: 64 }, limit: { type: 'integer', minimum: 1, maximum: 100 } } } },
  }, async (req) => {
    const { admin, readers, topic } = await connect();
    const telemetry = topic('telemetry');
    const ends = await deadline(() => admin.fetchTopicOffsets(telemetry), 'finding a vehicle');
    const partition = partitionForKey(req.query.vehicle, ends.length);
    const end = ends.find((e) => e.partition === partition)!;
    // Its partition's last records, newest first, the vehicle's picked out: enough for one vehicle among a partition's share of the fleet.
    const scan = 2_000;
    const low = BigInt(end.low);
    const from = BigInt(end.high) - BigInt(scan) < low ? low : BigInt(end.high) - BigInt(scan);
    const got = from >= BigInt(end.high) ? [] : (await readers.of(telemetry).read([{ partition, from, count: scan }])).get(partition) ?? [];
    const mine = got.filter((m) => m.key?.toString('utf8') === req.query.vehicle).reverse().slice(0, req.query.limit ?? 20);
    return { vehicle: req.query.vehicle, topic: telemetry, partition, scanned: got.length, from: from.toString(), latest: end.high, records: mine.map((m) => toTailRecord(telemetry, partition, m)) };
  });

  app.get<{ Querystring: { limit?: number } }>('/api/dead-letters', {
    schema: { querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT } } } },
  }, async (req) => {
    const { admin, readers, topic } = await connect();
    const dlt = topic('deadLetters');
    const limit = req.query.limit ?? 50;
    const ends = await deadline(() => admin.fetchTopicOffsets(dlt), 'reading the dead letters');
    const points = ends.map((e) => ({ partition: e.partition, from: BigInt(e.high) - BigInt(limit) < BigInt(e.low) ? BigInt(e.low) : BigInt(e.high) - BigInt(limit), count: limit, high: BigInt(e.high) }));
    const got = await readers.of(dlt).read(points.filter((p) => p.from < p.high));
    const records: (TailRecord & { reason: string | null; code: string | null; message: string | null; rawBase64: string })[] = [];
    for (const [partition, messages] of got) {
      for (const m of messages) records.push({ ...toTailRecord(dlt, partition, m), ...deadLetterOf(m) });
    }
    records.sort((a, b) => Number(b.timestamp) - Number(a.timestamp));
    return { topic: dlt, total: ends.reduce((n, e) => n + Number(BigInt(e.high) - BigInt(e.low)), 0), records: records.slice(0, limit) };
  });

  app.get<{ Querystring: { topic: string; key?: string } }>('/api/tail', {
    schema: { querystring: { type: 'object', additionalProperties: false, required: ['topic'], properties: { topic: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,249}$' }, key: { type: 'string', maxLength: 256 } } } },
  }, (req, reply) => {
    // The stream first (it notices a client that goes at once), then Kafka: a failure is an event.
    const stream = eventStream(req, reply, o.sessions);
    if (tails >= MAX_TAILS) {
      stream.send('failed', { message: `${MAX_TAILS} tails are open on this console already; stop one first` });
      return stream.close();
    }
    tails += 1;
    let stop!: () => void;
    const stopSignal = new Promise<void>((resolve) => (stop = resolve));
    stream.onClose(() => {
      tails -= 1;
      stop();
    });
    void (async () => {
      const { kafka } = await connect();
      const { tail } = await import('../tail/tail.js');
      await tail(kafka, { topic: req.query.topic, fromBeginning: false, ...(req.query.key === undefined ? {} : { key: req.query.key }), format: 'json', operationTimeoutMs: o.timeoutMs, stopSignal, logger: o.logger, write: (line) => stream.sendJson('record', line), onReady: () => stream.send('ready', {}) });
    })()
      .catch((err: unknown) => stream.send('failed', { message: (err as Error).message }))
      .finally(() => stream.close());
  });

  return {
    admin: async () => (await connect()).admin,
    async close() {
      const c = await client?.catch(() => undefined);
      if (c === undefined) return;
      await c.readers.close();
      await disconnectQuietly(c.admin);
    },
  };
}

function deadLetterOf(m: KafkaMessage): { reason: string | null; code: string | null; message: string | null; rawBase64: string } {
  const h = (name: string) => {
    const v = m.headers?.[name];
    return v === undefined ? null : (Array.isArray(v) ? v[0] : v)?.toString() ?? null;
  };
  return { reason: h(DEAD_LETTER_HEADER.reason), code: h(DEAD_LETTER_HEADER.code), message: h(DEAD_LETTER_HEADER.message), rawBase64: m.value?.toString('base64') ?? '' };
}
