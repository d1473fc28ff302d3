import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { formatResources, judge, sampleMetrics, sampleProcess, type Sample } from './resources.js';

/** The soak's verdicts (test/e2e/soak.ts), over made-up series. */
const MIN = 60_000;
const series = (name: string, pid: number, minutes: number, rss: (m: number) => number, fds: (m: number) => number = () => 30): Sample[] =>
  Array.from({ length: minutes * 4 + 1 }, (_, i) => ({ at: (i / 4) * MIN, name, pid, rssKiB: rss(i / 4), fds: fds(i / 4) }));
const o = { warmupMs: 10 * MIN, windowMs: 5 * MIN, tolerance: 0.1, judged: (n: string) => n !== 'kafka' };

describe('judge', () => {
  it('flat after its warm-up, whatever it did during it, with a GC spike in a window', () => {
    const [v] = judge(series('hot', 1, 60, (m) => (m < 10 ? 50_000 + m * 10_000 : m === 57 ? 300_000 : 150_000 + (m % 3) * 1_000)), o);
    expect(v).toMatchObject({ name: 'hot', verdict: 'flat', ok: true });
    expect(v!.rss!.growth).toBeLessThan(0.02);
  });

  it('RSS that keeps growing past 10 % is GREW, and so are open files that leak', () => {
    const [rss] = judge(series('cold', 1, 60, (m) => 100_000 + m * 500), o);
    expect(rss).toMatchObject({ verdict: 'GREW', ok: false });
    const [fds] = judge(series('gw-1', 2, 60, () => 80_000, (m) => 30 + Math.floor(m / 5)), o);
    expect(fds).toMatchObject({ verdict: 'GREW', ok: false });
    const [two] = judge(series('gw-2', 3, 60, () => 80_000, (m) => (m > 30 ? 12 : 10)), o);
    expect(two).toMatchObject({ verdict: 'flat', ok: true }); // 10 → 12 files: within 2
  });

  it('each pid is its own series; a short one is not judged; a part that is not ours is reported only', () => {
    const vs = judge([...series('hot', 1, 12, () => 1), ...series('hot', 2, 40, () => 100_000), ...series('kafka', 3, 60, (m) => 100_000 + m * 10_000)], o);
    expect(vs.map((v) => [v.pid, v.verdict, v.ok])).toEqual([[1, 'too short to judge', true], [2, 'flat', true], [3, 'reported only', true]]);
    expect(formatResources(vs)).toMatch(/\| hot \| 2 \| 40\.0 \| 161 \| 98 → 98 \(\+0\.0 %\) \| 30 → 30 \|  \|  \| flat \|/);
  });

  it("reports the JS heap and external memory beside RSS, the heap's low point and external's median per window, without judging them", () => {
    const samples = series('influx-sink', 1, 40, () => 100_000).map((s) => ({ ...s, heapUsed: (20 + s.at / MIN) * 2 ** 20, external: 4 * 2 ** 20 }));
    const [v] = judge(samples, o);
    expect(v).toMatchObject({ verdict: 'flat', heapUsed: { base: 30 * 2 ** 20, end: 55 * 2 ** 20 }, external: { base: 4 * 2 ** 20, end: 4 * 2 ** 20, growth: 0 } });
    expect(formatResources([v!])).toMatch(/\| 30 → 30 \| 30 → 55 \(\+83\.3 %\) \| 4 → 4 \(\+0\.0 %\) \| flat \|/);
  });

  it("reads the heap and external memory from a part's /metrics, prefixed or not, and nothing from one that fails", async () => {
    const server = createServer((req, res) => {
      if (req.url === '/metrics') res.end('# HELP roadlog_nodejs_heap_size_used_bytes x\nroadlog_nodejs_heap_size_used_bytes{component="hot",instance="vm-1"} 12345678\nroadlog_nodejs_heap_size_total_bytes 99\nnodejs_external_memory_bytes 4.5e+6\n');
      else res.writeHead(500).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect(await sampleMetrics(`${base}/metrics`)).toEqual({ heapUsed: 12_345_678, external: 4_500_000 });
      expect(await sampleMetrics(`${base}/broken`)).toEqual({});
    } finally {
      server.close();
    }
    expect(await sampleMetrics(base)).toEqual({}); // closed: refused
  });

  it('reads this process from /proc', async () => {
    const s = await sampleProcess(process.pid);
    expect(s!.rssKiB).toBeGreaterThan(10_000);
    expect(s!.fds).toBeGreaterThan(2);
    expect(await sampleProcess(2 ** 22 + 1)).toBeUndefined();
  });
});
