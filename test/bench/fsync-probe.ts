/**
 * How the disk itself answers fdatasync: 700-byte appends, each followed by fdatasync, in one
 * loop for N seconds (default 5), in a temporary file under DIR (default the OS temp dir, where
 * the benchmarks put the edge log). Prints the latency distribution and how many took over 10 ms.
 * Run it beside a benchmark to tell a stalling disk from a slow agent:
 *
 *   npx tsx test/bench/fsync-probe.ts [seconds] [dir]
 */
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BenchResult } from './results.js';

const seconds = Number(process.argv[2] ?? 5);
const result = new BenchResult('fsync-probe', 'Disk probe: append + fdatasync', `npm run bench:disk -- ${process.argv.slice(2).join(' ')}`.trim());
const dir = mkdtempSync(join(process.argv[3] ?? tmpdir(), 'roadlog-fsync-probe-'));
const fd = openSync(join(dir, 'probe.dat'), 'w');
const record = Buffer.alloc(700, 1);
const ms: number[] = [];
try {
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const t = performance.now();
    writeSync(fd, record);
    fdatasyncSync(fd);
    ms.push(performance.now() - t);
  }
} finally {
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
}
ms.sort((a, b) => a - b);
const p = (q: number): string => ms[Math.floor(q * (ms.length - 1))]!.toFixed(2);
console.log(`${ms.length} append+fdatasync in ${seconds} s: p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, p99.9 ${p(0.999)} ms, max ${ms.at(-1)!.toFixed(1)} ms; over 10 ms: ${ms.filter((x) => x > 10).length}`);
const over10 = ms.filter((x) => x > 10).length;
result.figure('append + fdatasync of 700 bytes, p50', `${p(0.5)} ms`);
result.figure('p99', `${p(0.99)} ms`);
result.figure('p99.9', `${p(0.999)} ms`);
result.figure('max', `${ms.at(-1)!.toFixed(1)} ms`);
result.figure('syncs over 10 ms', `${over10} of ${ms.length} in ${seconds} s`);
await result.write();
