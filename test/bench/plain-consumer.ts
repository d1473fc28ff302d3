/**
 * The reference the cloud benchmarks compare against: a plain kafkajs consumer that reads a
 * topic to its ends and only decodes each record (JSON and the envelope headers), in a fresh
 * process of its own (`inChild`), so it shares no heap with the preloading.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from '../../shared/kafka/kafkajs.js';
import { decodeEnvelopeHeaders } from '../../shared/envelope/index.js';

/** Reads `topic` to its ends, decoding each record; records/s and CPU seconds from the first record. */
export async function plainConsumer(kafka: Kafka, topic: string, total: number): Promise<{ rps: number; cpu: number }> {
  const consumer = kafka.consumer({ groupId: `plain-${Date.now()}`, maxBytesPerPartition: 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let n = 0;
  let decoded = 0;
  let t0 = 0;
  let cpu0: NodeJS.CpuUsage | undefined;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      if (t0 === 0) {
        t0 = performance.now();
        cpu0 = process.cpuUsage();
      }
      for (const m of batch.messages) {
        const t = JSON.parse(m.value!.toString('utf8')) as { ts: number };
        if (decodeEnvelopeHeaders(m.headers) !== undefined && t.ts > 0) decoded++;
        n++;
      }
      if (n >= total) done();
    },
  });
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  const u = process.cpuUsage(cpu0);
  await consumer.disconnect();
  if (decoded !== total) throw new Error(`plain consumer decoded ${decoded} of ${total}`);
  return { rps: total / seconds, cpu: (u.user + u.system) / 1e6 };
}

/** Runs plainConsumer in a fresh process (this file). */
export async function inChild(brokers: string, topic: string, total: number): Promise<{ rps: number; cpu: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], { env: { ...process.env, ROADLOG_BENCH_PLAIN_ARGS: JSON.stringify({ brokers, topic, total }) }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`the reference consumer failed (exit ${code})`);
  return JSON.parse(out.trim().split('\n').at(-1)!) as { rps: number; cpu: number };
}

if (process.env.ROADLOG_BENCH_PLAIN_ARGS !== undefined && process.argv[1] === fileURLToPath(import.meta.url)) {
  const { brokers, topic, total } = JSON.parse(process.env.ROADLOG_BENCH_PLAIN_ARGS) as { brokers: string; topic: string; total: number };
  const kafka = new Kafka({ clientId: 'bench-plain', brokers: [brokers], logLevel: logLevel.NOTHING });
  process.stdout.write(`${JSON.stringify(await plainConsumer(kafka, topic, total))}\n`);
}
