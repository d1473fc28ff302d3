/**
 * Group commit: appends queue up and are written by one flush at a time. A flush starts when
 * the oldest queued append has waited maxBatchDelayMs or the queue holds maxBatchBytes; the
 * next flush can start as soon as the previous one is done. Each append's promise settles
 * with its own result from the flush that carried it.
 *
 * Backpressure: `pendingBytes` counts queued and in-flight bytes; `submit` waits while adding
 * would pass maxPendingBytes (one item alone may always enter an empty queue), and
 * `waitForRoom` lets a caller stop reading its sockets until there is room again.
 */
export interface GroupCommitOptions {
  maxBatchDelayMs: number;
  maxBatchBytes: number;
  maxPendingBytes: number;
}

/** Writes a batch; returns one result or Error per item, in order. Throwing fails the whole batch. */
export type FlushFn<T, R> = (items: T[]) => Promise<(R | Error)[]>;

interface Queued<T, R> {
  item: T;
  bytes: number;
  at: number;
  resolve: (r: R) => void;
  reject: (e: Error) => void;
}

export class GroupCommit<T, R> {
  private queue: Queued<T, R>[] = [];
  private queuedBytes = 0;
  private inFlightBytes = 0;
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reservedBytes = 0;
  private roomWaiters: { bytes: number; reserve: boolean; resolve: () => void }[] = [];

  private closed = false;

  constructor(
    private readonly options: GroupCommitOptions,
    private readonly flushFn: FlushFn<T, R>,
    /** The error for a submit that waited for room and found the queue closed. */
    private readonly closedError: () => Error = () => new Error('group commit closed'),
    private readonly now: () => number = () => performance.now(),
  ) {}

  get pendingBytes(): number {
    return this.queuedBytes + this.inFlightBytes + this.reservedBytes;
  }

  hasRoom(bytes = 1): boolean {
    return this.pendingBytes === 0 || this.pendingBytes + bytes <= this.options.maxPendingBytes;
  }

  /** Resolves when `bytes` more would fit under maxPendingBytes. */
  waitForRoom(bytes = 1): Promise<void> {
    if (this.hasRoom(bytes) && this.roomWaiters.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push({ bytes, reserve: false, resolve }));
  }

  async submit(item: T, bytes: number): Promise<R> {
    if (this.closed) throw this.closedError();
    let reserved = 0;
    if (!this.hasRoom(bytes) || this.roomWaiters.length > 0) {
      // Woken with the bytes reserved, so one wake-up cannot let every waiter in at once.
      await new Promise<void>((resolve) => this.roomWaiters.push({ bytes, reserve: true, resolve }));
      reserved = bytes;
    }
    return new Promise<R>((resolve, reject) => {
      this.reservedBytes -= reserved;
      if (this.closed) {
        this.wakeWaiters();
        reject(this.closedError());
        return;
      }
      this.queue.push({ item, bytes, at: this.now(), resolve, reject });
      this.queuedBytes += bytes;
      this.schedule();
    });
  }

  /** Flushes everything queued now (and what woken waiters are about to queue) and waits until it is written. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.flushing !== undefined || this.reservedBytes > 0) {
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
    const wait = Math.max(0, this.queue[0]!.at + this.options.maxBatchDelayMs - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.flushing === undefined) this.startFlush();
    }, wait);
  }

  private startFlush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue;
    this.queue = [];
    this.inFlightBytes = this.queuedBytes;
    this.queuedBytes = 0;
    this.flushing = this.runFlush(batch).finally(() => {
      this.flushing = undefined;
      this.inFlightBytes = 0;
      this.wakeWaiters();
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

  private wakeWaiters(): void {
    while (this.roomWaiters.length > 0 && this.hasRoom(this.roomWaiters[0]!.bytes)) {
      const w = this.roomWaiters.shift()!;
      if (w.reserve) this.reservedBytes += w.bytes;
      w.resolve();
    }
  }

  /** Refuses new submits (those still waiting for room get closedError); call drain() first to write what is queued. */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.roomWaiters.splice(0)) {
      if (w.reserve) this.reservedBytes += w.bytes;
      w.resolve();
    }
  }
}
