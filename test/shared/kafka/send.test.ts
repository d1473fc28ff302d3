import type { Producer, ProducerRecord, RecordMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { chunkByBytes, groupByPartition, sendPerPartition, UnacknowledgedSendError } from '../../../shared/kafka/index.js';
import { partitionForKey } from '../../../shared/partitioner/index.js';
import { isRoadlogError } from '../../../shared/errors/index.js';

/** A fault-injecting stand-in for a kafkajs producer: `answer` decides each send's result. */
function fakeProducer(answer: (record: ProducerRecord) => RecordMetadata[] | Error): { producer: Producer; sent: ProducerRecord[] } {
  const sent: ProducerRecord[] = [];
  const producer = {
    send: async (record: ProducerRecord) => {
      sent.push(record);
      const a = answer(record);
      if (a instanceof Error) throw a;
      return a;
    },
  } as unknown as Producer;
  return { producer, sent };
}

const ok = (record: ProducerRecord): RecordMetadata[] => [{ topicName: record.topic, partition: record.messages[0]!.partition!, errorCode: 0, baseOffset: '7' }];
const records = Array.from({ length: 40 }, (_, i) => ({ key: `VH-${i}`, value: `v${i}` }));

describe('sendPerPartition', () => {
  it('groups by Kafka partition of the key, keeping order within each partition', () => {
    const groups = groupByPartition(records, 6);
    for (const [partition, group] of groups) {
      for (const r of group) expect(partitionForKey(r.key, 6)).toBe(partition);
      expect(group.map((r) => Number(r.key.slice(3)))).toEqual([...group.map((r) => Number(r.key.slice(3)))].sort((a, b) => a - b));
    }
    expect([...groups.values()].flat().length).toBe(40);
  });

  it('sends one request per partition, each naming its partition explicitly', async () => {
    const { producer, sent } = fakeProducer(ok);
    const acks = await sendPerPartition(producer, { topic: 't', partitions: 6, records });
    expect(sent.length).toBe(groupByPartition(records, 6).size);
    for (const request of sent) expect(new Set(request.messages.map((m) => m.partition)).size).toBe(1);
    expect([...acks.values()].reduce((n, a) => n + a.count, 0)).toBe(40);
  });

  it('splits a partition\'s records into requests under maxRequestBytes, in order, one after another', async () => {
    const big = Array.from({ length: 30 }, (_, i) => ({ key: 'VH-1', value: 'x'.repeat(1000), headers: { seq: String(i) } }));
    const { producer, sent } = fakeProducer(ok);
    const acks = await sendPerPartition(producer, { topic: 't', partitions: 6, records: big, maxRequestBytes: 5_000 });
    expect(sent.length).toBe(8); // 4 records of ~1,040 bytes per request
    expect(sent.flatMap((r) => r.messages.map((m) => Number(m.headers!.seq)))).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect([...acks.values()]).toEqual([{ baseOffset: '7', count: 30 }]);
    expect(chunkByBytes([{ key: 'k', value: 'y'.repeat(10_000) }], 100)).toHaveLength(1); // a record larger than the bound goes alone
  });

  it('reports how many leading records of a failed partition were acknowledged in earlier requests', async () => {
    const big = Array.from({ length: 30 }, (_, i) => ({ key: 'VH-1', value: 'x'.repeat(1000), headers: { seq: String(i) } }));
    let calls = 0;
    const { producer } = fakeProducer((record) => (++calls === 3 ? new Error('request timed out') : ok(record)));
    const err = await sendPerPartition(producer, { topic: 't', partitions: 6, records: big, maxRequestBytes: 5_000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ROADLOG_ERR_KAFKA_UNACKNOWLEDGED', details: { acked: [], progress: { [partitionForKey('VH-1', 6)]: 8 } } });
    expect(err).toBeInstanceOf(UnacknowledgedSendError);
    expect(err instanceof UnacknowledgedSendError && err.unacknowledged).toEqual({ topic: 't', acked: [], failed: [{ partition: partitionForKey('VH-1', 6), ackedRecords: 8 }] });
  });

  it('treats a response that does not name the partition as not acknowledged (the kafkajs failover bug)', async () => {
    const victim = partitionForKey('VH-0', 6);
    const { producer } = fakeProducer((record) => (record.messages[0]!.partition === victim ? [] : ok(record)));
    const err = await sendPerPartition(producer, { topic: 't', partitions: 6, records }).catch((e: unknown) => e);
    expect(isRoadlogError(err, 'ROADLOG_ERR_KAFKA_UNACKNOWLEDGED')).toBe(true);
    if (isRoadlogError(err)) {
      expect(err.retriable).toBe(true);
      expect(err.details.failed).toEqual([victim]);
      expect((err.details.acked as number[]).length).toBe(groupByPartition(records, 6).size - 1);
      expect(err instanceof UnacknowledgedSendError && err.unacknowledged.failed).toEqual([{ partition: victim, ackedRecords: 0 }]);
    }
  });

  it('reports a partition whose send threw, and which partitions were acknowledged anyway', async () => {
    const victim = partitionForKey('VH-3', 6);
    const { producer } = fakeProducer((record) => (record.messages[0]!.partition === victim ? new Error('Connection closed') : ok(record)));
    const err = await sendPerPartition(producer, { topic: 't', partitions: 6, records }).catch((e: unknown) => e);
    expect(isRoadlogError(err, 'ROADLOG_ERR_KAFKA_UNACKNOWLEDGED')).toBe(true);
    if (isRoadlogError(err)) {
      expect(err.message).toContain('Connection closed');
      expect(err.details.acked).not.toContain(victim);
    }
  });

  it('treats a non-zero error code as not acknowledged', async () => {
    const { producer } = fakeProducer((record) => [{ ...ok(record)[0]!, errorCode: 19 }]);
    await expect(sendPerPartition(producer, { topic: 't', partitions: 2, records: records.slice(0, 4) })).rejects.toThrow(/error code 19/);
  });
});
