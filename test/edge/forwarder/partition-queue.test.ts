import { describe, expect, it } from 'vitest';
import { PartitionQueue, type QueuedRecord } from '../../../edge/forwarder/partition-queue.js';

const item = (n: number): QueuedRecord => ({ record: { key: `v-${n}`, value: Buffer.alloc(100, n) }, ticket: {} as QueuedRecord['ticket'], ingestTs: n, lane: 'dead', valueBytes: 100 }) as unknown as QueuedRecord;

describe('PartitionQueue', () => {
  it('lets go of taken records once the queue is empty: a slow lane does not pile up what it already sent', () => {
    const q = new PartitionQueue('t', 0);
    for (let n = 0; n < 1000; n++) {
      q.push(item(n));
      expect(q.take(1 << 20, 100).map((x) => x.ingestTs)).toEqual([n]);
      q.acked();
    }
    expect(q.size).toBe(0);
    expect(q.retained).toBe(0);
  });

  it('keeps what waits behind a take, in order, and a failed request is taken again as it was', () => {
    const q = new PartitionQueue('t', 0);
    for (let n = 0; n < 10; n++) q.push(item(n));
    expect(q.take(1 << 20, 4).map((x) => x.ingestTs)).toEqual([0, 1, 2, 3]);
    q.failed(0);
    expect(q.take(1 << 20, 4).map((x) => x.ingestTs)).toEqual([0, 1, 2, 3]);
    q.acked();
    expect(q.retained).toBe(10); // 4 taken, 6 waiting: not yet worth a copy
    expect(q.take(1 << 20, 100).map((x) => x.ingestTs)).toEqual([4, 5, 6, 7, 8, 9]);
    q.acked();
    expect([q.size, q.retained]).toEqual([0, 0]);
  });
});
