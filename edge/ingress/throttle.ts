import { Mutex } from '../../shared/mutex/index.js';

/** Time as the throttle sees it; injected so a test can run the quota on a clock it moves by hand. */
export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Resolves once `ms` milliseconds of this clock have passed. */
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * The per-vehicle quota as a token bucket that *delays* rather than drops: a vehicle over its
 * rate gets its acknowledgments later, which slows a well-behaved MQTT client down (it has a
 * bounded number of messages in flight) without losing anything. Reservations are taken in
 * arrival order and each vehicle's delayed messages form a FIFO, so order is kept.
 *
 * `reserve` returns undefined when the message may go at once, or a promise to wait on.
 */
export class Throttle {
  /** Per vehicle: the tokens at time `at`, and the mutex its delayed messages wait in, in order. */
  private readonly buckets = new Map<string, { tokens: number; at: number; queue: Mutex }>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly clock: Clock = realClock,
  ) {}

  reserve(vehicleId: string): Promise<void> | undefined {
    const t = this.clock.now();
    let b = this.buckets.get(vehicleId);
    if (b === undefined) {
      b = { tokens: this.burst, at: t, queue: new Mutex() };
      this.buckets.set(vehicleId, b);
      if (this.buckets.size > 10_000) this.sweep(t);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.ratePerSecond);
    b.at = t;
    b.tokens -= 1; // may go negative: the debt is the wait
    if (b.tokens >= 0 && b.queue.pending === 0) return undefined;
    const waitMs = b.tokens >= 0 ? 0 : (-b.tokens / this.ratePerSecond) * 1000;
    return b.queue.run(() => this.clock.sleep(Math.max(0, waitMs - (this.clock.now() - t))));
  }

  private sweep(t: number): void {
    const refillMs = (this.burst / this.ratePerSecond) * 1000;
    for (const [id, b] of this.buckets) if (b.queue.pending === 0 && t - b.at > refillMs) this.buckets.delete(id);
  }
}
