import type { Cluster, PartitionAssigner } from 'kafkajs';
import { PartitionAssigners } from '../../../shared/kafka/kafkajs.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { fetchStableOffsets } from '../../../cloud/hot/stable-offsets.js';
import { createTopicsReady, randomName, testKafka } from '../../support/kafka.js';

/**
 * The hot path takes a partition over from the offsets its group committed in transactions.
 * Read right after a transaction's commit() returned, an ordinary OffsetFetch (kafkajs's
 * fetchOffsets) may still answer the offset before it; the stable read must never.
 */
const kafka = testKafka(inject('kafkaBrokers'));
let cluster: Cluster;
const consumer = kafka.consumer({
  groupId: randomName('stable-reader'),
  partitionAssigners: [
    ((args) => {
      cluster = args.cluster;
      return PartitionAssigners.roundRobin(args);
    }) as PartitionAssigner,
  ],
});
const admin = kafka.admin();

beforeAll(async () => {
  await consumer.connect();
  await admin.connect();
});
afterAll(async () => {
  await consumer.disconnect();
  await admin.disconnect();
});

describe('fetchStableOffsets (OffsetFetch v7, require_stable)', () => {
  it('right after each transaction commits, returns the offset it committed (−1 where nothing is committed)', async () => {
    const topic = randomName('stable');
    const group = randomName('stable-group');
    await createTopicsReady(admin, [{ topic, numPartitions: 2 }]);
    const producer = kafka.producer({ transactionalId: randomName('stable-txn'), maxInFlightRequests: 1, idempotent: true });
    await producer.connect();
    const rounds = 150;
    let plainStale = 0;
    const stableStale: number[] = [];
    try {
      for (let i = 1; i <= rounds; i++) {
        const txn = await producer.transaction();
        await txn.send({ topic, messages: [{ value: 'x', partition: 0 }] });
        for (let attempt = 0; ; attempt++) {
          try {
            await txn.sendOffsets({ consumerGroupId: group, topics: [{ topic, partitions: [{ partition: 0, offset: String(i), metadata: `m${i}` } as { partition: number; offset: string }] }] });
            break;
          } catch (err) {
            // the coordinator may still be loading the offsets topic on a fresh cluster
            if (!['CONCURRENT_TRANSACTIONS', 'NOT_COORDINATOR_FOR_GROUP', 'GROUP_LOAD_IN_PROGRESS', 'GROUP_COORDINATOR_NOT_AVAILABLE'].includes((err as { type?: string }).type ?? '') || attempt > 50) throw err;
            await new Promise((r) => setTimeout(r, 20));
          }
        }
        await txn.commit();
        // Both reads at once, right after commit(): the plain one races the markers.
        const [stable, plain] = await Promise.all([fetchStableOffsets(cluster, group, [{ topic, partitions: [0, 1] }]), admin.fetchOffsets({ groupId: group, topics: [topic] })]);
        const p0 = stable.find((o) => o.partition === 0)!;
        if (p0.offset !== BigInt(i) || p0.metadata !== `m${i}`) stableStale.push(i);
        expect(stable.find((o) => o.partition === 1)!.offset).toBe(-1n);
        if (Number(plain[0]!.partitions.find((p) => p.partition === 0)!.offset) !== i) plainStale++;
      }
    } finally {
      await producer.disconnect();
    }
    console.log(`stable offsets: ${rounds} transactions; the plain OffsetFetch answered the previous offset ${plainStale} times, the stable one ${stableStale.length} times`);
    expect(stableStale).toEqual([]);
  });

  it('an unknown group reads as nothing committed', async () => {
    const topic = randomName('stable');
    await createTopicsReady(admin, [{ topic, numPartitions: 1 }]);
    const got = await fetchStableOffsets(cluster, randomName('nobody'), [{ topic, partitions: [0] }]);
    expect(got).toMatchObject([{ topic, partition: 0, offset: -1n }]);
  });
});
