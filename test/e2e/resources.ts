import { readdir, readFile } from 'node:fs/promises';

/**
 * What the soak measures of every process: resident memory (VmRSS) and open files (entries of
 * /proc/PID/fd), sampled on a fixed period, and whether each process stayed flat.
 *
 * A process is one incarnation (a part killed and started again is a new pid, a new series).
 * Judged: its samples from `warmupMs` after its first one (heaps and caches fill, connections
 * open) for `windowMs` are its baseline, the last `windowMs` its end; each is the median of its
 * window, so one GC or one burst does not decide. Flat: RSS end ≤ baseline × (1 + tolerance);
 * open files the same, or at most 2 more (a count of 20 moves by whole files). A process that
 * lived less than warmup + 2 windows is reported, not judged.
 *
 * For roadlog's own processes it also reads their /metrics (prom-client's default metrics):
 * the JavaScript heap in use (its low point in each window: what survived a GC) and V8's external
 * memory (Buffers; medians), reported beside RSS, not judged: they tell a growing live set from
 * V8 or native memory that settles slowly.
 */
export interface Sample {
  at: number;
  name: string;
  pid: number;
  rssKiB: number;
  fds: number;
  /** From the process's /metrics, when it has one: nodejs_heap_size_used_bytes, nodejs_external_memory_bytes. */
  heapUsed?: number;
  external?: number;
}

export interface JudgeOptions {
  warmupMs: number;
  windowMs: number;
  /** 0.10: flat within 10 % (open files, and RSS unless `rssTolerance` says otherwise). */
  tolerance: number;
  rssTolerance?: number;
  /** Whether a part's flatness counts (roadlog's own parts; Kafka, InfluxDB and the load generator are reported only). */
  judged: (name: string) => boolean;
}

export interface Verdict {
  name: string;
  pid: number;
  samples: number;
  lifetimeMs: number;
  rss?: { baseKiB: number; endKiB: number; growth: number };
  fds?: { base: number; end: number; growth: number };
  /** Reported, not judged (bytes): the heap's low point in each window (its live set after a GC), external's median. */
  heapUsed?: { base: number; end: number; growth: number };
  external?: { base: number; end: number; growth: number };
  /** 'flat', 'GREW', 'too short to judge', 'reported only'. */
  verdict: string;
  ok: boolean;
}

/** RSS and open files of one process now, or undefined when it is gone. */
export async function sampleProcess(pid: number): Promise<{ rssKiB: number; fds: number } | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    if (rss === null) return undefined; // a zombie
    return { rssKiB: Number(rss[1]), fds: (await readdir(`/proc/${pid}/fd`)).length };
  } catch {
    return undefined;
  }
}

/** The JS heap in use and V8's external memory from a /metrics URL (prom-client's defaults, any prefix), or undefined. */
export async function sampleMetrics(url: string): Promise<{ heapUsed?: number; external?: number }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    if (!res.ok) return {};
    const text = await res.text();
    const value = (name: string): number | undefined => {
      const m = new RegExp(`^\\w*nodejs_${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(text); // labels or none
      return m === null ? undefined : Number(m[1]);
    };
    return { heapUsed: value('heap_size_used_bytes'), external: value('external_memory_bytes') };
  } catch {
    return {};
  }
}

/** Samples `list()`'s processes every `everyMs` until stopped. */
export class ResourceSampler {
  readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(
    private readonly list: () => Promise<{ name: string; pid: number }[]>,
    private readonly everyMs: number,
    /** A part's /metrics URL by name, when it has one. */
    private readonly metricsOf: (name: string) => string | undefined = () => undefined,
  ) {}

  start(): void {
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.everyMs);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const at = Date.now();
      for (const { name, pid } of await this.list()) {
        const s = await sampleProcess(pid);
        if (s === undefined) continue;
        const url = this.metricsOf(name);
        const m = url === undefined ? {} : await sampleMetrics(url);
        this.samples.push({ at, name, pid, ...s, ...(m.heapUsed === undefined ? {} : { heapUsed: m.heapUsed }), ...(m.external === undefined ? {} : { external: m.external }) });
      }
    } catch {
      // a part between incarnations: the next tick sees it
    } finally {
      this.busy = false;
    }
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export function judge(samples: readonly Sample[], o: JudgeOptions): Verdict[] {
  const series = new Map<string, Sample[]>();
  for (const s of samples) {
    const key = `${s.name} ${s.pid}`;
    (series.get(key) ?? series.set(key, []).get(key)!).push(s);
  }
  return [...series.values()].map((xs) => {
    xs.sort((a, b) => a.at - b.at);
    const first = xs[0]!;
    const last = xs.at(-1)!;
    const lifetimeMs = last.at - first.at;
    const base: Verdict = { name: first.name, pid: first.pid, samples: xs.length, lifetimeMs, verdict: 'too short to judge', ok: true };
    if (lifetimeMs < o.warmupMs + 2 * o.windowMs) return base;
    const from = first.at + o.warmupMs;
    const baseline = xs.filter((s) => s.at >= from && s.at <= from + o.windowMs);
    const end = xs.filter((s) => s.at >= last.at - o.windowMs);
    const rssBase = median(baseline.map((s) => s.rssKiB));
    const rssEnd = median(end.map((s) => s.rssKiB));
    const fdBase = median(baseline.map((s) => s.fds));
    const fdEnd = median(end.map((s) => s.fds));
    const rss = { baseKiB: rssBase, endKiB: rssEnd, growth: rssEnd / rssBase - 1 };
    const fds = { base: fdBase, end: fdEnd, growth: fdEnd / fdBase - 1 };
    const reported = (pick: (s: Sample) => number | undefined, of: (xs: number[]) => number): { base: number; end: number; growth: number } | undefined => {
      const b = baseline.map(pick).filter((x) => x !== undefined);
      const e = end.map(pick).filter((x) => x !== undefined);
      if (b.length === 0 || e.length === 0) return undefined;
      return { base: of(b), end: of(e), growth: of(e) / of(b) - 1 };
    };
    // The heap's low point in a window is what survived a GC: the live set, not the sawtooth.
    const heapUsed = reported((s) => s.heapUsed, (xs) => Math.min(...xs));
    const external = reported((s) => s.external, median);
    const extra = { ...(heapUsed === undefined ? {} : { heapUsed }), ...(external === undefined ? {} : { external }) };
    if (!o.judged(first.name)) return { ...base, rss, fds, ...extra, verdict: 'reported only' };
    const ok = rss.growth <= (o.rssTolerance ?? o.tolerance) && (fds.growth <= o.tolerance || fdEnd - fdBase <= 2);
    return { ...base, rss, fds, ...extra, verdict: ok ? 'flat' : 'GREW', ok };
  });
}

export function formatResources(verdicts: readonly Verdict[]): string {
  const pct = (g: number): string => `${g >= 0 ? '+' : ''}${(g * 100).toFixed(1)} %`;
  const mib = (k: number): string => (k / 1024).toFixed(0);
  const rows = [...verdicts].sort((a, b) => a.name.localeCompare(b.name) || a.pid - b.pid).map((v) => {
    const min = (v.lifetimeMs / 60_000).toFixed(1);
    const rss = v.rss === undefined ? '' : `${mib(v.rss.baseKiB)} → ${mib(v.rss.endKiB)} (${pct(v.rss.growth)})`;
    const fds = v.fds === undefined ? '' : `${v.fds.base} → ${v.fds.end}`;
    const bytes = (x: { base: number; end: number; growth: number } | undefined) => (x === undefined ? '' : `${mib(x.base / 1024)} → ${mib(x.end / 1024)} (${pct(x.growth)})`);
    return `| ${v.name} | ${v.pid} | ${min} | ${v.samples} | ${rss} | ${fds} | ${bytes(v.heapUsed)} | ${bytes(v.external)} | ${v.verdict} |`;
  });
  return [
    '| process | pid | lived (min) | samples | RSS MiB, baseline → end | open files, baseline → end | JS heap used MiB, window low | external (Buffers) MiB | verdict |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n') + '\n';
}
