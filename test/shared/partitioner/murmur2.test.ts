import { Partitioners } from '../../../shared/kafka/kafkajs.js';
import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey } from '../../../shared/partitioner/index.js';

// kafkajs's default partitioner is its port of the Java client's; ours must agree with it for
// every key, so the edge log and Kafka put a vehicle in the same partition number.
const kafkajsPartition = (key: string, partitions: number): number =>
  Partitioners.DefaultPartitioner()({
    topic: 't',
    partitionMetadata: Array.from({ length: partitions }, (_, i) => ({ partitionId: i, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 })),
    message: { key, value: 'x' },
  });

describe('murmur2 partitioner', () => {
  it('matches the Java client on known vectors', () => {
    // Values from org.apache.kafka.common.utils.UtilsTest#testMurmur2.
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ];
    for (const [key, hash] of vectors) expect(murmur2(new TextEncoder().encode(key)), key).toBe(hash);
  });

  it('agrees with kafkajs for 20,000 keys of every tail length and partition counts 1..64', () => {
    let seed = 12345;
    const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    for (let i = 0; i < 20_000; i++) {
      const key = `VH-${rand().toString(36)}${'x'.repeat(i % 7)}`;
      const partitions = 1 + (rand() % 64);
      expect(partitionForKey(key, partitions)).toBe(kafkajsPartition(key, partitions));
    }
  });

  it('rejects a partition count that is not a positive integer', () => {
    expect(() => partitionForKey('a', 0)).toThrow(RangeError);
    expect(() => partitionForKey('a', 1.5)).toThrow(RangeError);
  });
});
