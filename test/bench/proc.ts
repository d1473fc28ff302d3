/**
 * What a benchmark reads of a process and of the machine from /proc (Linux): a process's CPU
 * seconds and resident memory, sampled while a phase runs, and the machine's I/O stall time.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

export function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime (fields 14, 15)
}

export function procRssMb(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/** Samples a process's RSS every 200 ms while a phase runs; CPU from the difference of /proc counters. */
export async function sampled<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; cpuPct: number; rssMaxMb: number; rssEndMb: number }> {
  const cpu0 = procCpuSeconds(pid);
  const t0 = performance.now();
  let rssMax = procRssMb(pid).rss;
  const timer = setInterval(() => (rssMax = Math.max(rssMax, procRssMb(pid).rss)), 200);
  try {
    const result = await work();
    const cpuPct = ((procCpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000)) * 100;
    const rssEnd = procRssMb(pid).rss;
    return { result, cpuPct, rssMaxMb: Math.max(rssMax, rssEnd), rssEndMb: rssEnd };
  } finally {
    clearInterval(timer);
  }
}

/**
 * Linux pressure stall information: microseconds in which every task was stalled on I/O
 * (/proc/pressure/io, "full"; undefined without PSI). A round with seconds of it was run on a
 * stalling disk, whoever the broker.
 */
export function ioFullStallUs(): number | undefined {
  try {
    const total = /^full .*total=(\d+)/m.exec(readFileSync('/proc/pressure/io', 'utf8'))?.[1];
    return total === undefined ? undefined : Number(total);
  } catch {
    return undefined;
  }
}
