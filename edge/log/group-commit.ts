/**
 * Group commit: appends queue up and are written by one flush at a time. A flush starts when
 * the oldest queued append has waited maxBatchDelayMs or the queue holds maxBatchBytes; the
 * next flush can start as soon as the previous one is done. Each append's promise settles
 * with its own result from the flush that carried it.
 *
 * Backpressure: a PendingBudget counts queued and in-flight bytes (several GroupCommits can
 * share one); `submit` waits while adding would pass its limit (one item alone may always
 * enter an empty budget), and `waitForRoom` lets a caller stop reading its sockets until
 * there is room again.
 */
export interface GroupCommitOptions {
  maxBatchDelayMs: number;
  /**
   * While records arrive fast enough that a flush waiting this long would carry two or more,
   * but one waiting maxBatchDelayMs fewer than two (a steady, moderate rate), it waits up to
   * this long instead: fewer, fuller durable writes. A lone record after a quiet spell, or a
   * rate that fills flushes anyway, keeps maxBatchDelayMs. At or below maxBatchDelayMs: the
   * delay never changes. Default: maxBatchDelayMs.
   */
  busyBatchDelayMs?: number;
  maxBatchBytes: number;
  maxPendingBytes: number;
}

/** Weight of the newest flush in the arrival-rate estimate. */
const RATE_WEIGHT = 0.3;

/** Writes a batch; returns one result or Error per item, in order. Throwing fails the whole batch. */
export type FlushFn<T, R> = (items: T[]) => Promise<(R | Error)[]>;

interface Queued<T, R> {
  item: T;
  bytes: number;
  at: number;
  resolve: (r: R) => void;
  reject: (e: Error) => void;
}

/** Bytes admitted and not yet written, against a limit; waiters are let in in order. */
export class PendingBudget {
  private used = 0;
  private waiters: { bytes: number; reserve: boolean; resolve: () => void }[] = [];

  constructor(readonly maxBytes: number) {}

  get bytes(): number {
    return this.used;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  hasRoom(bytes = 1): boolean {
    return this.used === 0 || this.used + bytes <= this.maxBytes;
  }

  /** Takes `bytes`, waiting for room first if needed (and behind earlier waiters). */
  async acquire(bytes: number): Promise<void> {
    if (this.waiters.length === 0 && this.hasRoom(bytes)) {
      this.used += bytes;
      return;
    }
    // Woken with the bytes already taken, so one wake-up cannot let every waiter in at once.
    await new Promise<void>((resolve) => this.waiters.push({ bytes, reserve: true, resolve }));
  }

  /** Resolves when `bytes` more would fit (takes nothing). */
  waitForRoom(bytes = 1): Promise<void> {
    if (this.hasRoom(bytes) && this.waiters.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ bytes, reserve: false, resolve }));
  }

  release(bytes: number): void {
    this.used -= bytes;
    this.wake(false);
  }

  /** Lets every waiter go (on close: they find the queue closed and give their bytes back). */
  releaseAllWaiters(): void {
    this.wake(true);
  }

  private wake(all: boolean): void {
    while (this.waiters.length > 0 && (all || this.hasRoom(this.waiters[0]!.bytes))) {
      const w = this.waiters.shift()!;
      if (w.reserve) this.used += w.bytes;
      w.resolve();
    }
  }
}

export class GroupCommit<T, R> {
  private queue: Queued<T, R>[] = [];
  private queuedBytes = 0;
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private entering = 0;
  private closed = false;
  /** Arrivals per ms, estimated at each flush (an exponentially weighted average). */
  private arrivalRate = 0;
  private lastFlushAt: number | undefined;
  readonly budget: PendingBudget;

  constructor(
    private readonly options: GroupCommitOptions,
    private readonly flushFn: FlushFn<T, R>,
    /** The error for a submit after close (or one that waited for room and found the queue closed). */
    private readonly closedError: () => Error = () => new Error('group commit closed'),
    budget?: PendingBudget,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.budget = budget ?? new PendingBudget(options.maxPendingBytes);
  }

  /** Bytes queued or being written (in the whole budget when it is shared). */
  get pendingBytes(): number {
    return this.budget.bytes;
  }

  hasRoom(bytes = 1): boolean {
    return this.budget.hasRoom(bytes);
  }

  waitForRoom(bytes = 1): Promise<void> {
    return this.budget.waitForRoom(bytes);
  }

  async submit(item: T, bytes: number): Promise<R> {
    if (this.closed) throw this.closedError();
    this.entering++;
    try {
      await this.budget.acquire(bytes);
    } finally {
      this.entering--;
    }
    if (this.closed) {
      this.budget.release(bytes);
      throw this.closedError();
    }
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, bytes, at: this.now(), resolve, reject });
      this.queuedBytes += bytes;
      this.schedule();
    });
  }

  /** Flushes everything queued now (and what is entering) and waits until it is written. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.flushing !== undefined || (this.entering > 0 && !this.closed)) {
      if (this.flushing !== undefined) await this.flushing;
      else if (this.queue.length > 0) this.startFlush();
      else await new Promise((r) => setImmediate(r));
    }
  }

  private schedule(): void {
    if (this.flushing !== undefined || this.queue.length === 0) return;
    if (this.queuedBytes >= this.options.maxBatchBytes || this.options.maxBatchDelayMs === 0) {
      this.startFlush();
      return;
    }
    if (this.timer !== undefined) return;
    const wait = Math.max(0, this.queue[0]!.at + this.delayMs() - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.flushing === undefined) this.startFlush();
    }, wait);
  }

  /**
   * The group commit delay now. The busy delay only where it pays: the base delay would carry
   * fewer than two records and the busy one two or more (a steady, moderate rate). Faster than
   * that, flushes fill at the base delay already; after a quiet spell a lone record is not held.
   */
  delayMs(): number {
    const { maxBatchDelayMs, busyBatchDelayMs } = this.options;
    if (busyBatchDelayMs === undefined || busyBatchDelayMs <= maxBatchDelayMs) return maxBatchDelayMs;
    // The average, unless what arrived since the last flush says the stream has thinned.
    const since = this.lastFlushAt === undefined ? Infinity : this.now() - this.lastFlushAt;
    const rate = Math.min(this.arrivalRate, this.queue.length / Math.max(1, since));
    return rate * maxBatchDelayMs < 2 && rate * busyBatchDelayMs >= 2 ? busyBatchDelayMs : maxBatchDelayMs;
  }

  private startFlush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const now = this.now();
    if (this.lastFlushAt !== undefined) {
      const rate = this.queue.length / Math.max(1, now - this.lastFlushAt);
      this.arrivalRate = RATE_WEIGHT * rate + (1 - RATE_WEIGHT) * this.arrivalRate;
    }
    this.lastFlushAt = now;
    const batch = this.queue;
    const bytes = this.queuedBytes;
    this.queue = [];
    this.queuedBytes = 0;
    this.flushing = this.runFlush(batch).finally(() => {
      this.flushing = undefined;
      this.budget.release(bytes);
      this.schedule();
    });
  }

  private async runFlush(batch: Queued<T, R>[]): Promise<void> {
    let results: (R | Error)[];
    try {
      results = await this.flushFn(batch.map((q) => q.item));
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      results = batch.map(() => e);
    }
    batch.forEach((q, i) => {
      const r = results[i];
      if (r instanceof Error) q.reject(r);
      else q.resolve(r as R);
    });
  }

  /** Refuses new submits; those still waiting for room get closedError. Call drain() first to write what is queued. */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
