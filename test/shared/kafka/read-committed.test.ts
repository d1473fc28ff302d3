import { describe, expect, it } from 'vitest';
import { filterAborted } from '../../../shared/kafka/kafkajs.js';

/** The read_committed filter shared/kafka/kafkajs.ts puts in kafkajs (the real broker case: test/integration/kafka/read-committed.test.ts). */
const data = (offset: number, producerId: string) => ({ offset: String(offset), key: null, isControlRecord: false, batchContext: { producerId, inTransaction: producerId !== '-1' } });
const marker = (offset: number, producerId: string, type: 'abort' | 'commit') => ({ offset: String(offset), key: Buffer.from([0, 0, 0, type === 'abort' ? 0 : 1]), isControlRecord: true, batchContext: { producerId, inTransaction: true } });
const offsets = (ms: { offset: string; isControlRecord: boolean }[]) => ms.filter((m) => !m.isControlRecord).map((m) => Number(m.offset));

describe('filterAborted', () => {
  it('a read that starts after two aborted transactions began drops the records of both', () => {
    const messages = [data(2, 'B'), data(3, 'A'), data(4, 'C'), marker(5, 'A', 'abort'), marker(6, 'B', 'abort'), marker(7, 'C', 'commit'), data(8, '-1')];
    expect(offsets(filterAborted({ messages, abortedTransactions: [{ producerId: 'A', firstOffset: '1' }, { producerId: 'B', firstOffset: '2' }] }) as never)).toEqual([4, 8]);
  });

  it('the aborted transactions may come in any order; a producer aborted twice is dropped in both and kept between', () => {
    const messages = [data(0, 'A'), marker(1, 'A', 'abort'), data(2, 'A'), marker(3, 'A', 'commit'), data(4, 'A'), data(5, 'B'), marker(6, 'A', 'abort'), data(7, 'B'), marker(8, 'B', 'commit')];
    const abortedTransactions = [{ producerId: 'A', firstOffset: '4' }, { producerId: 'A', firstOffset: '0' }];
    expect(offsets(filterAborted({ messages, abortedTransactions }) as never)).toEqual([2, 5, 7]);
  });

  it('with no aborted transactions every record is kept', () => {
    const messages = [data(0, 'A'), marker(1, 'A', 'commit'), data(2, '-1')];
    expect(filterAborted({ messages, abortedTransactions: [] })).toBe(messages);
  });
});
