/**
 * kafkajs, the one way roadlog loads it at run time (`import type` from 'kafkajs' is fine
 * anywhere; test/shared/boundaries.test.ts keeps every value import here).
 *
 * Why: kafkajs 2.2.4's read_committed consumer hands out records of aborted transactions. Its
 * filter (src/consumer/filterAbortedMessages.js) steps into at most one aborted transaction per
 * record it looks at, so when a fetch starts after two or more aborted transactions have begun
 * (interleaved transactions of several producers, all aborted, and a reader that follows the
 * last stable offset), a record of the second one goes through. That is what the hot path
 * leaves behind when a new owner fences its partitions' producers: their open transactions are
 * aborted together, and every kafkajs reader of the alerts topic (the console, `roadlog
 * alerts`, the archiver) saw some of those events, then the same events again from the new
 * owner. Measured with Kafka 4.4: two interleaved aborted transactions, a reader seeking to the
 * second one's first record gets it; kcat (librdkafka) with isolation.level=read_committed
 * does not (test/integration/kafka/read-committed.test.ts).
 *
 * The fix is the Java consumer's rule: before a record, every aborted transaction that began
 * at or before it is in the aborted set (not just the next one); an abort marker takes its
 * producer out. It replaces the filter in Node's module cache before kafkajs loads it, and a
 * check on kafkajs's own Batch proves it took: if kafkajs was loaded first (a value import of
 * 'kafkajs' somewhere that ran before this module), this throws instead of reading aborted
 * records silently.
 */
import { createRequire } from 'node:module';
import type * as KafkaJS from 'kafkajs';

const require = createRequire(import.meta.url);
const FIXED = Symbol.for('roadlog.kafkajs.readCommittedFilter');

interface FilterMessage {
  offset: string;
  key?: Buffer | null;
  isControlRecord?: boolean;
  batchContext: { producerId: string; inTransaction: boolean };
}
interface AbortedTransaction {
  producerId: string;
  firstOffset: string;
}

const ABORT_MARKER_KEY = Buffer.from([0, 0, 0, 0]); // control record key: version 0, type 0 (ABORT)

/** The records of `messages` (one partition's fetch, in offset order) that are not in an aborted transaction. */
export function filterAborted({ messages, abortedTransactions }: { messages: FilterMessage[]; abortedTransactions?: AbortedTransaction[] | null }): FilterMessage[] {
  if (abortedTransactions === undefined || abortedTransactions === null || abortedTransactions.length === 0) return messages;
  const upcoming = [...abortedTransactions].sort((a, b) => (BigInt(a.firstOffset) < BigInt(b.firstOffset) ? -1 : 1));
  const aborted = new Set<string>();
  return messages.filter((m) => {
    const offset = BigInt(m.offset);
    while (upcoming.length > 0 && offset >= BigInt(upcoming[0]!.firstOffset)) aborted.add(upcoming.shift()!.producerId);
    const { producerId, inTransaction } = m.batchContext;
    if (m.isControlRecord === true && m.key != null && Buffer.from(m.key).equals(ABORT_MARKER_KEY)) {
      aborted.delete(producerId);
      return true; // control records are dropped by the Batch after this filter
    }
    return !(inTransaction && aborted.has(producerId));
  });
}
Object.defineProperty(filterAborted, FIXED, { value: true });

function install(): typeof KafkaJS {
  const filterPath = require.resolve('kafkajs/src/consumer/filterAbortedMessages.js');
  const batchPath = require.resolve('kafkajs/src/consumer/batch.js');
  const cached = require.cache[filterPath];
  const already = cached !== undefined && (cached.exports as Record<symbol, unknown>)[FIXED] === true;
  if (!already) {
    if (require.cache[batchPath] !== undefined) throw new Error('kafkajs was loaded before shared/kafka/kafkajs.ts could fix its read_committed filter: import kafkajs\'s values from shared/kafka/kafkajs.js only');
    require(filterPath); // into the cache, then its exports swapped for the fixed filter
    require.cache[filterPath]!.exports = filterAborted;
  }
  const kafkajs = require('kafkajs') as typeof KafkaJS;
  selfCheck(require(batchPath) as new (topic: string, fetchedOffset: string, data: unknown) => { messages: { offset: string }[] });
  return kafkajs;
}

/** kafkajs's Batch over the failing case: two interleaved aborted transactions, read from the second one's first record. */
function selfCheck(Batch: new (topic: string, fetchedOffset: string, data: unknown) => { messages: { offset: string }[] }): void {
  const record = (offset: number, producerId: string, control = false) => ({ offset: String(offset), key: control ? Buffer.from([0, 0, 0, 0]) : null, value: null, headers: {}, isControlRecord: control, batchContext: { producerId, inTransaction: producerId !== '-1' } });
  const batch = new Batch('t', '2', {
    partition: 0,
    highWatermark: '8',
    abortedTransactions: [{ producerId: '10', firstOffset: '1' }, { producerId: '11', firstOffset: '2' }],
    messages: [record(2, '11'), record(3, '10'), record(4, '11'), record(5, '10', true), record(6, '11', true), record(7, '-1')],
  });
  const got = batch.messages.map((m) => m.offset).join(',');
  if (got !== '7') throw new Error(`kafkajs's read_committed filter is not the fixed one (it kept offsets ${got} of two aborted transactions): import kafkajs's values from shared/kafka/kafkajs.js only`);
}

const kafkajs = install();
export default kafkajs;
export const { Kafka, logLevel, CompressionTypes, AssignerProtocol, Partitioners, PartitionAssigners } = kafkajs;
export type Kafka = KafkaJS.Kafka;
export type logLevel = KafkaJS.logLevel;
export type CompressionTypes = KafkaJS.CompressionTypes;
