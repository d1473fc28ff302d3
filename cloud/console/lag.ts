import type { Admin, KafkaMessage } from 'kafkajs';
import type { TopicReaders } from './reader.js';

/**
 * Consumer groups and how far behind each is, in records and in time: for each partition, the
 * time of the newest record minus the time of the oldest one the group has not read (the record
 * at its committed offset). Time is the record's device time (`ts`) on the telemetry topic, and
 * its Kafka timestamp on any other. A partition the group has caught up on is 0 s behind; one
 * it never committed on is behind from the partition's earliest record.
 */
export interface PartitionLag {
  partition: number;
  /** The group's committed offset (the next record it reads); null when it has none. */
  committed: string | null;
  end: string;
  lag: number;
  lagSeconds: number | null;
}

export interface TopicLag {
  topic: string;
  clock: 'device' | 'kafka';
  lag: number;
  /** The partition furthest behind in time; null where no record could be read. */
  lagSeconds: number | null;
  partitions: PartitionLag[];
}

export interface GroupLag {
  groupId: string;
  state: string;
  members: number;
  lag: number;
  lagSeconds: number | null;
  topics: TopicLag[];
}

/** Throw-away groups of readers that never commit (the console's, `roadlog tail`, reports): not shown unless asked. */
export const READER_GROUP = /^roadlog-(console|read|tail)-/;

export async function groupLags(admin: Admin, readers: TopicReaders, o: { telemetryTopic: string; includeReaders: boolean }): Promise<GroupLag[]> {
  const listed = (await admin.listGroups()).groups.filter((g) => (g.protocolType === 'consumer' || g.protocolType === '') && (o.includeReaders || !READER_GROUP.test(g.groupId)));
  if (listed.length === 0) return [];
  const described = new Map((await admin.describeGroups(listed.map((g) => g.groupId))).groups.map((g) => [g.groupId, g]));
  const committed = await Promise.all(listed.map(async (g) => ({ groupId: g.groupId, topics: await admin.fetchOffsets({ groupId: g.groupId }) })));
  const topics = [...new Set(committed.flatMap((c) => c.topics.map((t) => t.topic)))];
  const ends = new Map(await Promise.all(topics.map(async (t) => [t, await admin.fetchTopicOffsets(t)] as const)));
  // Which record times are needed: each partition's newest, and each group's oldest unread.
  const wanted = new Map<string, Map<number, Set<bigint>>>();
  const want = (topic: string, partition: number, offset: bigint) => {
    const byPartition = wanted.get(topic) ?? wanted.set(topic, new Map()).get(topic)!;
    (byPartition.get(partition) ?? byPartition.set(partition, new Set()).get(partition)!).add(offset);
  };
  for (const c of committed) {
    for (const t of c.topics) {
      for (const p of t.partitions) {
        const end = ends.get(t.topic)?.find((e) => e.partition === p.partition);
        if (end === undefined) continue;
        const from = startOf(p.offset, end.low);
        if (from < BigInt(end.high)) {
          want(t.topic, p.partition, from);
          want(t.topic, p.partition, newestFrom(end));
        }
      }
    }
  }
  const times = await recordTimes(readers, wanted, o.telemetryTopic);
  return committed
    .map((c) => {
      const g = described.get(c.groupId);
      const topicLags = c.topics.map((t): TopicLag => {
        const partitions = t.partitions
          .map((p): PartitionLag => {
            const end = ends.get(t.topic)?.find((e) => e.partition === p.partition);
            const high = BigInt(end?.high ?? '0');
            const from = startOf(p.offset, end?.low ?? '0');
            const lag = from < high ? Number(high - from) : 0;
            let lagSeconds: number | null = 0;
            if (lag > 0 && end !== undefined) {
              const newest = times.get(key(t.topic, p.partition, newestFrom(end)))?.last;
              const oldest = times.get(key(t.topic, p.partition, from))?.first;
              // Nothing readable from the committed offset (only a transaction's marker or aborted records): nothing to wait for.
              const readable = times.has(key(t.topic, p.partition, from));
              lagSeconds = !readable ? 0 : newest === undefined || oldest === undefined ? null : Math.max(0, (newest - oldest) / 1000);
            }
            return { partition: p.partition, committed: p.offset === '-1' ? null : p.offset, end: end?.high ?? '?', lag, lagSeconds };
          })
          .sort((a, b) => a.partition - b.partition);
        return { topic: t.topic, clock: t.topic === o.telemetryTopic ? 'device' : 'kafka', lag: sum(partitions.map((p) => p.lag)), lagSeconds: maxOrNull(partitions.map((p) => p.lagSeconds)), partitions };
      });
      return { groupId: c.groupId, state: g?.state ?? 'Unknown', members: g?.members.length ?? 0, lag: sum(topicLags.map((t) => t.lag)), lagSeconds: maxOrNull(topicLags.map((t) => t.lagSeconds)), topics: topicLags };
    })
    .sort((a, b) => a.groupId.localeCompare(b.groupId));
}

/** The group reads next from its committed offset, or from the earliest record when it has none (or it fell behind retention). */
function startOf(committed: string, low: string): bigint {
  const c = BigInt(committed);
  return c < 0n || c < BigInt(low) ? BigInt(low) : c;
}

/** Reading from a few offsets before the end finds the newest record even past a transaction's commit marker. */
function newestFrom(end: { low: string; high: string }): bigint {
  const from = BigInt(end.high) - 3n;
  return from < BigInt(end.low) ? BigInt(end.low) : from;
}

const key = (topic: string, partition: number, offset: bigint) => `${topic}\u0000${partition}\u0000${offset}`;

/** The times of the first and the last of the few records read from each wanted offset, one offset per partition at a time. */
async function recordTimes(readers: TopicReaders, wanted: Map<string, Map<number, Set<bigint>>>, telemetryTopic: string): Promise<Map<string, { first?: number; last?: number }>> {
  const times = new Map<string, { first?: number; last?: number }>();
  for (const [topic, byPartition] of wanted) {
    const queues = new Map([...byPartition].map(([p, offsets]) => [p, [...offsets]]));
    for (;;) {
      const round = [...queues].filter(([, q]) => q.length > 0).map(([partition, q]) => ({ partition, from: q.shift()!, count: 3 }));
      if (round.length === 0) break;
      const got = await readers.of(topic).read(round);
      for (const r of round) {
        const messages = got.get(r.partition) ?? [];
        if (messages.length === 0) continue;
        const first = timeOf(topic === telemetryTopic, messages[0]!);
        // The newest: the latest time among the partition's last records (a gateway's backfill may end it with an old one).
        const known = messages.map((m) => timeOf(topic === telemetryTopic, m)).filter((t): t is number => t !== undefined);
        const last = known.length === 0 ? undefined : Math.max(...known);
        times.set(key(topic, r.partition, r.from), { ...(first === undefined ? {} : { first }), ...(last === undefined ? {} : { last }) });
      }
    }
  }
  return times;
}

/** Device time (`ts` of the telemetry JSON) or the Kafka timestamp. */
export function timeOf(device: boolean, m: KafkaMessage): number | undefined {
  if (device) {
    try {
      const ts = (JSON.parse(m.value?.toString('utf8') ?? 'null') as { ts?: unknown } | null)?.ts;
      return typeof ts === 'number' ? ts : undefined;
    } catch {
      return undefined;
    }
  }
  const t = Number(m.timestamp);
  return Number.isFinite(t) ? t : undefined;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

function maxOrNull(xs: (number | null)[]): number | null {
  const known = xs.filter((x): x is number => x !== null);
  return known.length === 0 ? null : Math.max(...known);
}
