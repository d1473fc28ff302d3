import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readToEnd } from '../../../cloud/admin/read-to-end.js';
import { fencingProducer } from '../../../cloud/hot/commits.js';
import { createTopicsReady, randomName, testKafka } from '../../support/kafka.js';

/**
 * A hot-path partition's new owner must fence the old owner's producer before it reads where
 * the old owner got to: an old owner (paused, partitioned away) that commits afterwards would
 * publish what the new owner publishes again.
 */
const kafka = testKafka(inject('kafkaBrokers'));
const admin = kafka.admin();

beforeAll(async () => {
  await admin.connect();
});
afterAll(async () => {
  await admin.disconnect();
});

/** An old owner with a transaction open: one record sent, not yet committed. */
async function openTransaction(topic: string, transactionalId: string) {
  const producer = kafka.producer({ transactionalId, maxInFlightRequests: 1, idempotent: true, transactionTimeout: 60_000 });
  await producer.connect();
  const txn = await producer.transaction();
  await txn.send({ topic, messages: [{ value: 'old owner', partition: 0 }] });
  return { producer, txn };
}

describe('fencing a transactional id', () => {
  it("kafkajs's connect() alone does not fence: the old owner still commits (why fencingProducer exists)", async () => {
    const topic = randomName('fence');
    await createTopicsReady(admin, [{ topic, numPartitions: 1 }]);
    const id = randomName('fence-txn');
    const old = await openTransaction(topic, id);
    const next = kafka.producer({ transactionalId: id, maxInFlightRequests: 1, idempotent: true, transactionTimeout: 60_000 });
    await next.connect();
    try {
      await expect(old.txn.commit()).resolves.toBeUndefined();
    } finally {
      await Promise.all([old.producer.disconnect(), next.disconnect()]);
    }
  });

  it('fencingProducer ends the old owner: its open transaction is aborted and its commit refused', async () => {
    const topic = randomName('fence');
    await createTopicsReady(admin, [{ topic, numPartitions: 1 }]);
    const id = randomName('fence-txn');
    const old = await openTransaction(topic, id);
    const next = await fencingProducer(kafka, id);
    try {
      await expect(old.txn.commit()).rejects.toMatchObject({ type: expect.stringMatching(/^(INVALID_PRODUCER_EPOCH|PRODUCER_FENCED)$/) });
      // The new owner's transactions go through.
      const txn = await next.transaction();
      await txn.send({ topic, messages: [{ value: 'new owner', partition: 0 }] });
      await txn.commit();
    } finally {
      await Promise.all([old.producer.disconnect(), next.disconnect()]);
    }
    // Read committed: only the new owner's record (the old one's was aborted when it was fenced).
    const seen: string[] = [];
    await readToEnd(kafka, topic, (_p, m) => void seen.push(m.value!.toString()), { timeoutMs: 20_000, transactional: true, what: 'fence' });
    expect(seen).toEqual(['new owner']);
  });
});
