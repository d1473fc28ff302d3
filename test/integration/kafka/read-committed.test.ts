import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CLI } from '../../support/cli.js';
import { createTopicsReady, randomName, testKafka, waitFor } from '../../support/kafka.js';

/**
 * read_committed as roadlog's kafkajs reads it (shared/kafka/kafkajs.ts fixes kafkajs 2.2.4's
 * filter): several producers' transactions interleaved on one partition, some aborted, some
 * committed. Read from every offset, a consumer gets exactly the committed records from there
 * on, as kcat (librdkafka) does with isolation.level=read_committed. Unfixed kafkajs hands out
 * records of the second aborted transaction when a read starts after both began.
 */
const run = promisify(execFile);
const brokers = inject('kafkaBrokers');
let kafka: Kafka;
let admin: Admin;
const producers: Producer[] = [];

beforeAll(async () => {
  kafka = testKafka(brokers);
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  await Promise.all(producers.map((p) => p.disconnect().catch(() => undefined)));
  await admin.disconnect();
});

/** offset → value of what a read_committed kafkajs consumer gets from `from` on, read until past offset `last` (or for 3 s when there is none). */
async function readFrom(topic: string, from: number, last: number | undefined): Promise<Map<number, string>> {
  const groupId = randomName('rc');
  await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: String(from) }] }); // where the group starts
  const consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got = new Map<number, string>();
  let reached = -1;
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) got.set(Number(m.offset), m.value!.toString());
      reached = Math.max(reached, ...batch.messages.map((m) => Number(m.offset)));
    },
  });
  try {
    if (last === undefined) await new Promise((r) => setTimeout(r, 3_000));
    else await waitFor(() => (reached >= last ? true : undefined), 30_000, `a read from ${from} to reach ${last} (at ${reached})`, 50);
  } finally {
    await consumer.disconnect();
  }
  return got;
}

describe('read_committed through shared/kafka/kafkajs.ts', () => {
  it('records of interleaved aborted transactions are never read, from any offset; kcat agrees', async () => {
    const topic = randomName('read-committed');
    await createTopicsReady(admin, [{ topic, numPartitions: 1, replicationFactor: 1 }]);
    const transactional = await Promise.all([1, 2, 3].map(async (i) => {
      const p = kafka.producer({ transactionalId: `${topic}-${i}`, maxInFlightRequests: 1, idempotent: true });
      producers.push(p);
      await p.connect();
      return p;
    }));
    const plain = kafka.producer();
    producers.push(plain);
    await plain.connect();
    const send = (t: { send: Producer['send'] }, value: string) => t.send({ topic, messages: [{ partition: 0, value }] });
    const committed = new Set<string>();
    await send(plain, 'plain-0');
    committed.add('plain-0');
    // Two rounds: producers 1 and 2 interleaved and both aborted, 3 interleaved with them and committed.
    for (let round = 0; round < 2; round++) {
      const [t1, t2, t3] = await Promise.all(transactional.map((p) => p.transaction()));
      for (let i = 0; i < 3; i++) {
        await send(t1!, `r${round}-abort-1-${i}`);
        await send(t2!, `r${round}-abort-2-${i}`);
        await send(t3!, `r${round}-commit-3-${i}`);
        committed.add(`r${round}-commit-3-${i}`);
      }
      await t1!.abort();
      await t2!.abort();
      await t3!.commit();
      await send(plain, `plain-${round + 1}`);
      committed.add(`plain-${round + 1}`);
    }
    // Every marker written: the partition's end as read_committed sees it reaches the high watermark.
    const end = await waitFor(async () => {
      const [o] = await admin.fetchTopicOffsets(topic);
      const { stdout } = await run('kcat', ['-b', brokers, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%o\n', '-X', 'isolation.level=read_committed']);
      return stdout.trim().split('\n').length === committed.size ? Number(o!.high) : undefined;
    }, 30_000, 'every transaction marker written');

    const offsets = Array.from({ length: end }, (_, i) => i);
    for (let i = 0; i < offsets.length; i += 16) { // a group join takes seconds: 16 readers at a time
      await Promise.all(offsets.slice(i, i + 16).map(async (from) => {
        const { stdout } = await run('kcat', ['-b', brokers, '-C', '-t', topic, '-o', String(from), '-e', '-q', '-f', '%o %s\n', '-X', 'isolation.level=read_committed']);
        const byKcat = new Map(stdout.trim().split('\n').filter((l) => l !== '').map((l) => [Number(l.split(' ')[0]), l.split(' ')[1]!] as const));
        const byKafkajs = await readFrom(topic, from, byKcat.size === 0 ? undefined : Math.max(...byKcat.keys()));
        expect([...byKafkajs.values()].filter((v) => !committed.has(v)), `aborted records read from offset ${from}`).toEqual([]);
        expect([...byKafkajs.entries()].sort((a, b) => a[0] - b[0]), `from offset ${from}`).toEqual([...byKcat.entries()].sort((a, b) => a[0] - b[0]));
      }));
    }
  }, 300_000);

  it('kafkajs loaded before the fix is refused at start, not read wrongly', async () => {
    const fix = CLI.replace(/shared\/cli\/main\.js$/, 'shared/kafka/kafkajs.js');
    const script = `require('kafkajs'); import(${JSON.stringify(fix)}).then(() => console.log('loaded'), (e) => { console.log(e.message); process.exit(3); });`;
    const child = await run(process.execPath, ['-e', script], { cwd: CLI.replace(/\/dist\/.*$/, '') }).then((r) => ({ code: 0, out: r.stdout }), (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }));
    expect(child.code).toBe(3);
    expect(child.out).toMatch(/kafkajs was loaded before shared\/kafka\/kafkajs\.ts could fix its read_committed filter/);
  });
});
