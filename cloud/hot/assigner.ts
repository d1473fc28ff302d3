import type { Cluster, Kafka, PartitionAssigner } from 'kafkajs';
import { AssignerProtocol } from '../../shared/kafka/kafkajs.js';
import { fetchStableOffsets } from './stable-offsets.js';

/**
 * Co-partitioned assignment: partition p of every subscribed topic goes to the same member
 * (telemetry p, alert commands p, hot-state changelog p), so one instance owns a vehicle's
 * records, the operators' commands about its alerts and its state. Partitions are dealt out in
 * order over the members sorted by id (range style: member k gets a contiguous block).
 * The topics must have the same partition count (`roadlog topics apply` makes them so);
 * partitions beyond the smallest count are left unassigned, and a warning says so.
 * `onCluster` is handed the consumer's cluster when the consumer is made.
 */
export const CO_PARTITIONED = 'RoadlogCoPartitioned';

export function coPartitionedAssigner(onMismatch: (counts: Record<string, number>) => void = () => undefined, onCluster: (cluster: Cluster) => void = () => undefined): PartitionAssigner {
  return ({ cluster }: { cluster: Cluster }) => (onCluster(cluster), {
    name: CO_PARTITIONED,
    version: 1,
    async assign({ members, topics }: { members: { memberId: string }[]; topics: string[] }) {
      await cluster.refreshMetadataIfNecessary();
      const counts = Object.fromEntries(topics.map((t) => [t, cluster.findTopicPartitionMetadata(t).length]));
      const n = Math.min(...Object.values(counts));
      if (Object.values(counts).some((c) => c !== n)) onMismatch(counts);
      const sorted = [...members].map((m) => m.memberId).sort();
      const share = (k: number) => {
        const base = Math.floor(n / sorted.length);
        const extra = n % sorted.length;
        const from = k * base + Math.min(k, extra);
        return Array.from({ length: base + (k < extra ? 1 : 0) }, (_, i) => from + i);
      };
      return sorted.map((memberId, k) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: Object.fromEntries(topics.map((t) => [t, share(k)])), userData: Buffer.alloc(0) }),
      }));
    },
    protocol({ topics }: { topics: string[] }) {
      return { name: CO_PARTITIONED, metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }) };
    },
  });
}

export interface CommittedPosition {
  committed: { offset: bigint; metadata: string | null } | undefined;
  low: string;
  high: string;
}

/**
 * Where group `groupId` got to in partition p of each of `topics` (its committed offset and
 * metadata; undefined when nothing is committed: stable, see stable-offsets.ts), and the
 * partition's first and end offsets. Read after the partition's transactional producer has
 * started, so no transaction of a previous owner is still open. `cluster` is the consumer's
 * (its group coordinator connection).
 */
export async function committedPositions(kafka: Kafka, cluster: Cluster, groupId: string, topics: string[], p: number): Promise<CommittedPosition[]> {
  const offsets = await fetchStableOffsets(cluster, groupId, topics.map((topic) => ({ topic, partitions: [p] })));
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await Promise.all(
      topics.map(async (topic) => {
        const c = offsets.find((x) => x.topic === topic && x.partition === p);
        const end = (await admin.fetchTopicOffsets(topic)).find((x) => x.partition === p);
        return { committed: c === undefined || c.offset < 0n ? undefined : { offset: c.offset, metadata: c.metadata }, low: end?.low ?? '0', high: end?.high ?? '0' };
      }),
    );
  } finally {
    await admin.disconnect();
  }
}
