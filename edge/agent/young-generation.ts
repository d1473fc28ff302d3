import { setFlagsFromString } from 'node:v8';
import { allowYoungGenerationGrowth } from '../../shared/heap/young-generation.js';

/**
 * The JavaScript heap follows the load.
 *
 * V8 allocates short-lived objects in a "young generation" that grows, by default, up to 2 × 16 MB
 * on a 64-bit Node, and that V8 gives back only when the process allocates less than about
 * 1 MB/s. The agent allocates ~17 KB per message (aedes, the MQTT parser, JSON, promises), so a
 * gateway with 1,000 vehicles at 1 Hz allocates 17 MB/s: the young generation grows to its
 * maximum during the connection storm and stays there (33 MB measured on Node 20). Capped small,
 * it costs a third of the throughput at 40k msg/s (each collection then finds the 1,000
 * publishes in flight still alive and copies them).
 *
 * So the agent runs with growth pinned (V8's flag `--semi-space-growth-factor=1`: the young
 * generation stays at its initial 2 × 1 MB, on V8 13 as on V8 11) while the ingest rate is low,
 * and lets V8 grow it while the rate is above `burstMessagesPerSecond`. When the rate has stayed
 * below half of that for `quietSeconds`, growth is pinned again; V8 returns the extra space once
 * allocation slows.
 *
 * Pinned, Maglev is off too. Node 24's V8 (13.6) adds Maglev, a mid-tier optimizing compiler
 * that Node 20's V8 did not run: it compiles on V8's worker threads in memory taken with malloc,
 * and glibc keeps what those threads freed in per-thread arenas. With 1,000 vehicles at 1 Hz that
 * was 27 MB of resident memory outside the V8 heap, against 16-18 MB without Maglev (and on
 * Node 20), plus 1 MB of code space and 1.4 MB of compiler code paged in from the node binary.
 * Hot functions then go from Sparkplug straight to TurboFan, as they did on Node 20; the closed
 * loop measured no loss (the governor gives Maglev back for a burst anyway). With both, 1,000
 * vehicles at 1 Hz hold 103-105 MB on Node 24: over the 100 MB target by the node binary's own
 * code, which no heap flag reaches (edge/README.md, "Memory").
 *
 * The pin must happen before the modules load (their loading alone grows the young generation to
 * 2 × 8 MB and wakes Maglev): shared/cli/main.ts imports ./early.js first, which pins for
 * `roadlog edge start`. Node documents `v8.setFlagsFromString` after start-up as use-with-care;
 * these flags are values V8 reads when it resizes a space or picks a function's next tier
 * (heap/new-spaces.cc, heap/heap.cc, execution/tiering-manager.cc), nothing else.
 */
let pinned = false;

/**
 * Low-rate mode: the young generation stays at its initial size, and the old generation may grow
 * only to 1.3 × what the last full collection kept (V8's own factor is 1.1-4 by heap size and
 * speed): at 1,000 msg/s few objects get old, so the extra full collections are cheap, and the
 * old space stays near its live size (measured: 40.6 → 28.8 MB with 1,000 vehicles).
 */
export const LOW_RATE_OLD_GROWTH_PERCENT = 30;

export function pinYoungGeneration(): void {
  allowYoungGenerationGrowth(false);
  setFlagsFromString(`--heap-growing-percent=${LOW_RATE_OLD_GROWTH_PERCENT}`);
  setFlagsFromString('--no-maglev');
  pinned = true;
}

/** Back to V8's defaults (heap-growing-percent 0: V8 picks the factor; Maglev on); the young generation grows again, up to the ceiling (shared/heap/young-generation.ts). */
export function releaseYoungGeneration(): void {
  allowYoungGenerationGrowth(true);
  setFlagsFromString('--heap-growing-percent=0');
  setFlagsFromString('--maglev');
  pinned = false;
}

export function youngGenerationPinned(): boolean {
  return pinned;
}

export interface YoungGenerationOptions {
  /** Messages per second (ingested + forwarded) above which the young generation may grow; 0: always. */
  burstMessagesPerSecond: number;
  quietSeconds: number;
}

/** Samples a message counter twice a second and pins or releases the young generation. */
export class YoungGenerationGovernor {
  private timer: NodeJS.Timeout | undefined;
  private lastCount = 0;
  private lastAt = 0;
  private quietSince: number | undefined;

  constructor(
    private readonly options: YoungGenerationOptions,
    private readonly count: () => number,
    private readonly onChange: (pinned: boolean, rate: number) => void = () => undefined,
    private readonly now: () => number = () => performance.now(),
    private readonly v8 = { pin: pinYoungGeneration, release: releaseYoungGeneration, pinned: youngGenerationPinned },
  ) {}

  start(intervalMs = 500): void {
    if (this.options.burstMessagesPerSecond === 0) {
      if (this.v8.pinned()) this.v8.release();
      return;
    }
    this.lastCount = this.count();
    this.lastAt = this.now();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  /** Stops sampling and gives V8 its defaults back (the flags are the process's, not the agent's). */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.options.burstMessagesPerSecond !== 0 && this.v8.pinned()) this.v8.release();
  }

  /** One step: exposed for tests. */
  sample(): void {
    const count = this.count();
    const at = this.now();
    const rate = at > this.lastAt ? ((count - this.lastCount) * 1000) / (at - this.lastAt) : 0;
    this.lastCount = count;
    this.lastAt = at;
    const burst = this.options.burstMessagesPerSecond;
    if (this.v8.pinned()) {
      if (rate >= burst) {
        this.v8.release();
        this.quietSince = undefined;
        this.onChange(false, rate);
      }
      return;
    }
    if (rate >= burst / 2) {
      this.quietSince = undefined;
      return;
    }
    this.quietSince ??= at;
    if (at - this.quietSince >= this.options.quietSeconds * 1000) {
      this.v8.pin();
      this.quietSince = undefined;
      this.onChange(true, rate);
    }
  }
}
