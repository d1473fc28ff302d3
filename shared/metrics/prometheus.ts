/**
 * Reading other processes' /metrics (the Prometheus text format): the console's health page and
 * the demo's live line read the components' own figures.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text format's samples (comments and malformed lines left out). */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    if (!Number.isNaN(value)) out.push({ name: m[1]!, labels, value });
  }
  return out;
}

export interface Quantiles {
  count: number;
  /** Upper bounds of the buckets the 50th and 99th percentiles fall in, seconds (Infinity: past the last bucket). */
  p50Seconds: number | null;
  p99Seconds: number | null;
}

/** A histogram's p50 and p99 over every series of that name (its buckets summed by `le`). */
export function histogramQuantiles(samples: readonly Sample[], name: string): Quantiles {
  const byLe = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || s.labels.le === undefined) continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  const buckets = [...byLe].sort(([a], [b]) => a - b);
  const count = buckets.at(-1)?.[1] ?? 0;
  const q = (p: number) => (count === 0 ? null : buckets.find(([, n]) => n >= p * count)![0]);
  return { count, p50Seconds: q(0.5), p99Seconds: q(0.99) };
}
