/**
 * Benchmark of the edge log's append path (`npm run bench`; never part of `npm test`).
 *
 *   npx tsx test/bench/log-append.ts            (ROADLOG_BENCH_SECONDS=5 by default)
 *
 * 300-byte values over 1,000 keys (vehicle ids). Reference measured in the same run: a plain
 * append-only file writer with the same group commit (same batching, one write + fdatasync
 * per flush) on the same disk, so the ratio holds on a noisy machine. Reports records/s,
 * MB/s, append latency p50/p99 (closed loop, and open loop at 5k records/s offered), write
 * amplification (bytes the log wrote to files / key+value bytes appended), and the rate of
 * draining everything from a cold cursor after reopening the log.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { BenchResult } from './results.js';
import { join } from 'node:path';
import { nodeFileLayer, type FileLayer } from '../../edge/log/file-layer.js';
import { GroupCommit } from '../../edge/log/group-commit.js';
import { openLog, type EdgeLog } from '../../edge/log/log.js';
import { DEFAULT_PARTITIONS } from '../../edge/log/options.js';

const SECONDS = Number(process.env.ROADLOG_BENCH_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.ROADLOG_BENCH_CONCURRENCY ?? 256);
const KEYS = Array.from({ length: 1000 }, (_, i) => `veh-${String(i).padStart(5, '0')}`);
const VALUE = Buffer.alloc(300, 'v');
const PAYLOAD = KEYS[0]!.length + VALUE.length;
const LOG_OPTIONS = { partitions: Number(process.env.ROADLOG_BENCH_PARTITIONS ?? DEFAULT_PARTITIONS), maxBatchDelayMs: Number(process.env.ROADLOG_BENCH_BATCH_DELAY_MS ?? 2), maxBatchBytes: 1024 * 1024 };

/** Counts every byte written through the layer (segments, indexes, cursors, meta). */
function countingLayer(inner: FileLayer): { layer: FileLayer; written: () => number } {
  let written = 0;
  const layer: FileLayer = {
    ...inner,
    async open(path, mode) {
      const f = await inner.open(path, mode);
      return Object.assign(Object.create(f) as typeof f, {
        append: async (data: Uint8Array) => {
          written += data.length;
          await f.append(data);
        },
      });
    },
  };
  return { layer, written: () => written };
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Run {
  records: number;
  seconds: number;
  latencies: Float64Array;
}

/** Closed loop: CONCURRENCY appenders, each appending as soon as its last append resolved. */
async function closedLoop(append: (i: number) => Promise<unknown>, seconds: number): Promise<Run> {
  const lat: number[] = [];
  let n = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        const i = n++;
        const t = performance.now();
        await append(i);
        lat.push(performance.now() - t);
      }
    }),
  );
  const s = (performance.now() - started) / 1000;
  return { records: lat.length, seconds: s, latencies: Float64Array.from(lat).sort() };
}

/** Open loop: `rate` appends per second offered on a fixed schedule, whatever the latency. */
async function openLoop(append: (i: number) => Promise<unknown>, rate: number, seconds: number): Promise<Run> {
  const lat: number[] = [];
  const pending: Promise<unknown>[] = [];
  const started = performance.now();
  const total = Math.floor(rate * seconds);
  let i = 0;
  while (i < total) {
    const due = started + (i / rate) * 1000;
    const now = performance.now();
    if (due > now) await new Promise((r) => setTimeout(r, Math.max(0, due - now)));
    const now2 = performance.now();
    while (i < total && started + (i / rate) * 1000 <= now2) {
      const t = started + (i / rate) * 1000; // latency from when it was due (no coordinated omission)
      pending.push(append(i).then(() => lat.push(performance.now() - t)));
      i++;
    }
  }
  await Promise.all(pending);
  return { records: lat.length, seconds: (performance.now() - started) / 1000, latencies: Float64Array.from(lat).sort() };
}

/** Runs `fn` while measuring how late a 5 ms timer fires: stalls of the event loop (GC, CPU taken by other processes). */
async function watchEventLoop(fn: () => Promise<Run>): Promise<{ run: Run; stalls: number; longest: number }> {
  let longest = 0;
  let stalls = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const late = now - last - 5;
    last = now;
    if (late > 10) stalls++;
    longest = Math.max(longest, late);
  }, 5);
  try {
    return { run: await fn(), stalls, longest };
  } finally {
    clearInterval(timer);
  }
}

async function referenceWriter(dir: string) {
  const fh = await open(join(dir, 'reference.bin'), 'a');
  let written = 0;
  const gc = new GroupCommit<Buffer, void>({ maxBatchDelayMs: LOG_OPTIONS.maxBatchDelayMs, maxBatchBytes: LOG_OPTIONS.maxBatchBytes, maxPendingBytes: 32 << 20 }, async (items) => {
    const buf = Buffer.concat(items);
    await fh.write(buf);
    await fh.datasync();
    written += buf.length;
    return items.map(() => undefined);
  });
  return {
    append: (i: number) => gc.submit(Buffer.concat([Buffer.from(KEYS[i % KEYS.length]!), VALUE]), PAYLOAD),
    written: () => written,
    close: async () => {
      await gc.drain();
      await fh.close();
    },
  };
}

const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

function report(name: string, r: Run): Record<string, string> {
  return {
    name,
    'records/s': fmt(r.records / r.seconds),
    'MB/s (payload)': fmt((r.records * PAYLOAD) / r.seconds / 1e6, 2),
    'p50 ms': fmt(percentile(r.latencies, 50), 2),
    'p99 ms': fmt(percentile(r.latencies, 99), 2),
  };
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'roadlog-bench-'));
  const loadBefore = loadavg();
  const result = new BenchResult('log-append', 'Edge log append', 'npm run bench:log');
  let fsType = '?';
  try {
    fsType = execFileSync('df', ['-T', root]).toString().trim().split('\n')[1]?.split(/\s+/)[1] ?? '?';
  } catch {
    /* not Linux */
  }
  console.log(`roadlog edge log append benchmark`);
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${fmt(totalmem() / 2 ** 30, 1)} GiB RAM; Node ${process.version}; ${process.platform}; data dir ${root} (${fsType})`);
  console.log(`workload: ${VALUE.length}-byte values over ${KEYS.length} keys; ${CONCURRENCY} appends in flight; ${SECONDS} s per run; log: ${JSON.stringify(LOG_OPTIONS)}`);
  try {
    const rows: Record<string, string>[] = [];

    const ref = await referenceWriter(root);
    const refRun = await closedLoop(ref.append, SECONDS);
    rows.push(report('reference: one file, same group commit', refRun));
    const refOpen = await watchEventLoop(() => openLoop(ref.append, 5000, SECONDS));
    rows.push(report('reference, 5k records/s offered', refOpen.run));
    await ref.close();

    const counting = countingLayer(nodeFileLayer);
    const dir = join(root, 'log');
    let log: EdgeLog = await openLog(dir, LOG_OPTIONS, { fileLayer: counting.layer });
    const before = counting.written();
    const logRun = await closedLoop((i) => log.append({ key: KEYS[i % KEYS.length]!, value: VALUE }), SECONDS);
    const amplification = (counting.written() - before) / (logRun.records * PAYLOAD);
    rows.push(report(`edge log (${LOG_OPTIONS.partitions} partitions)`, logRun));

    const logOpen = await watchEventLoop(() => openLoop((i) => log.append({ key: KEYS[i % KEYS.length]!, value: VALUE }), 5000, SECONDS));
    const openRun = logOpen.run;
    rows.push(report('edge log, 5k records/s offered', openRun));
    const stallNote = `event loop stalls > 10 ms during the 5k/s runs: reference ${refOpen.stalls} (longest ${fmt(refOpen.longest, 1)} ms), edge log ${logOpen.stalls} (longest ${fmt(logOpen.longest, 1)} ms)`;
    await log.close();

    // Cold cursor: reopen (recovery runs), a new reader drains everything from offset 0.
    const total = logRun.records + openRun.records;
    const t0 = performance.now();
    log = await openLog(dir, LOG_OPTIONS);
    const reader = await log.openReader('bench-cold');
    let drained = 0;
    for (;;) {
      const b = await reader.read({ maxRecords: 5000, maxBytes: 4 << 20 });
      if (b.records.length === 0) break;
      drained += b.records.length;
    }
    const drainSeconds = (performance.now() - t0) / 1000;
    await log.close();
    if (drained !== total) throw new Error(`drained ${drained} records, appended ${total}`);

    console.table(rows);
    const appendRate = logRun.records / logRun.seconds;
    const drainRate = drained / drainSeconds;
    const ratio = appendRate / (refRun.records / refRun.seconds);
    const p99 = percentile(openRun.latencies, 99);
    console.log(stallNote);
    console.log(`load average before the run: ${loadBefore.map((l) => fmt(l, 2)).join(' ')}; after: ${loadavg().map((l) => fmt(l, 2)).join(' ')}`);
    console.log(`throughput vs reference: ${fmt(ratio, 2)}× (target ≥ 0.7) ${ratio >= 0.7 ? 'ok' : 'MISSED'}`);
    console.log(`p99 at 5k records/s offered: ${fmt(p99, 2)} ms (target ≤ 10) ${p99 <= 10 ? 'ok' : 'MISSED'}`);
    console.log(`write amplification: ${fmt(amplification, 3)} (bytes written / key+value bytes; target ≤ 1.3) ${amplification <= 1.3 ? 'ok' : 'MISSED'}`);
    console.log(`cold-cursor drain: ${fmt(drainRate)} records/s incl. reopen = ${fmt(drainRate / appendRate, 2)}× the append rate (target ≥ 1.5) ${drainRate / appendRate >= 1.5 ? 'ok' : 'MISSED'}`);

    result.figure('throughput vs the reference (one file, same group commit)', `${fmt(ratio, 2)}× (${fmt(appendRate)} / ${fmt(refRun.records / refRun.seconds)} records/s)`, '≥ 0.7×', ratio >= 0.7);
    result.figure('append p99 at 5k records/s offered (reference)', `${fmt(p99, 2)} ms (${fmt(percentile(refOpen.run.latencies, 99), 2)} ms)`, '≤ 10 ms', p99 <= 10);
    result.figure('write amplification (bytes written / key + value bytes)', fmt(amplification, 3), '≤ 1.3', amplification <= 1.3);
    result.figure('cold-cursor drain incl. reopen, vs the append rate', `${fmt(drainRate / appendRate, 2)}× (${fmt(drainRate)} records/s)`, '≥ 1.5×', drainRate / appendRate >= 1.5);
    const columns = Object.keys(rows[0]!);
    result.section('Runs', [`| ${columns.join(' | ')} |`, `|${columns.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${columns.map((c) => r[c]).join(' | ')} |`)].join('\n'));
    result.section('Conditions', [
      `- workload: ${VALUE.length}-byte values over ${KEYS.length} keys; ${CONCURRENCY} appends in flight; ${SECONDS} s per phase; log options \`${JSON.stringify(LOG_OPTIONS)}\``,
      `- data dir on ${fsType}`,
      `- ${stallNote}`,
    ].join('\n'));
    await result.write();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
