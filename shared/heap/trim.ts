import { getHeapStatistics } from 'node:v8';
import { shrinkHeap } from './young-generation.js';

export interface HeapTrimOptions {
  /** Committed JS heap this far above what the last shrink left counts as a burst's leftover. */
  marginBytes: number;
  /** The burst is over once the committed heap has not grown for this long. */
  quietMs: number;
  /** At most one shrink per this long: each stops the process for ~0.1-0.8 s. */
  minIntervalMs: number;
  /** How often the committed heap is looked at. */
  intervalMs: number;
}

export const HEAP_TRIM_DEFAULTS: HeapTrimOptions = { marginBytes: 32 * 1024 * 1024, quietMs: 60_000, minIntervalMs: 300_000, intervalMs: 10_000 };

export interface HeapShrunk {
  beforeBytes: number;
  afterBytes: number;
  ms: number;
}

export interface HeapTrimDeps {
  /** V8's committed heap, bytes (`total_heap_size`). */
  committed: () => number;
  /** One memory-reducing GC; how long it took, ms. */
  shrink: () => number;
  now: () => number;
}

const V8_DEPS: HeapTrimDeps = { committed: () => getHeapStatistics().total_heap_size, shrink: shrinkHeap, now: () => performance.now() };

/**
 * Gives back what a burst left in the JS heap of a long-running cloud part (the hot path, the
 * archiver, the InfluxDB sink, the console; the edge agent has its own, edge/agent/agent.ts).
 *
 * A catch-up (a gateway's backlog after an outage, a restart reading from its committed
 * offsets) grows V8's heap: the young generation to its ceiling, the old generation to several
 * times what is live. V8 gives that back only once the process allocates less than ~1 MB/s,
 * which a part that keeps consuming never does, so each burst raised the resident size for
 * good (the soak saw +17-32 %). When the committed heap is `marginBytes` above what the last
 * shrink left and has not grown for `quietMs`, this runs one memory-reducing GC (`shrinkHeap`).
 * The first shrink comes `minIntervalMs` after the start at the earliest and sets the level;
 * afterwards at most one per `minIntervalMs`, so a part whose steady heap is that much above
 * the shrunk one pays one pause per interval, no more. In the soak that bound is what paced it:
 * between collections V8 lets the old generation reach ~4× what is live, so each part shrank
 * about every 5 minutes (72-304 ms each on 2 cores).
 */
export class HeapTrimmer {
  private timer: NodeJS.Timeout | undefined;
  private floor = 0;
  private last = 0;
  private grewAt = 0;
  private lastShrinkAt = 0;

  constructor(
    private readonly options: HeapTrimOptions,
    private readonly onShrink: (shrunk: HeapShrunk) => void,
    private readonly deps: HeapTrimDeps = V8_DEPS,
  ) {}

  start(): void {
    this.lastShrinkAt = this.grewAt = this.deps.now();
    this.timer = setInterval(() => this.sample(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One look: exposed for tests. */
  sample(): void {
    const { marginBytes, quietMs, minIntervalMs } = this.options;
    const bytes = this.deps.committed();
    const now = this.deps.now();
    if (bytes > this.last) this.grewAt = now;
    this.last = bytes;
    if (bytes < this.floor + marginBytes || now - this.grewAt < quietMs || now - this.lastShrinkAt < minIntervalMs) return;
    const ms = this.deps.shrink();
    const after = this.deps.committed();
    this.floor = this.last = after;
    this.grewAt = this.lastShrinkAt = this.deps.now();
    this.onShrink({ beforeBytes: bytes, afterBytes: after, ms });
  }
}
