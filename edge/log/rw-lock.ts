/**
 * A readers-writer lock for async code: many `shared` holders at once (flushes of different
 * partitions), or one `exclusive` holder (retention and the full-disk policy, which delete
 * segments). A waiting exclusive request holds back later shared ones, so it cannot starve.
 */
export class RwLock {
  private shared = 0;
  private exclusive = false;
  private queue: { exclusive: boolean; resolve: () => void }[] = [];

  async withShared<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire(false);
    try {
      return await fn();
    } finally {
      this.release(false);
    }
  }

  async withExclusive<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire(true);
    try {
      return await fn();
    } finally {
      this.release(true);
    }
  }

  private canEnter(exclusive: boolean): boolean {
    return exclusive ? !this.exclusive && this.shared === 0 : !this.exclusive;
  }

  private acquire(exclusive: boolean): Promise<void> {
    if (this.queue.length === 0 && this.canEnter(exclusive)) {
      this.enter(exclusive);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.queue.push({ exclusive, resolve }));
  }

  private enter(exclusive: boolean): void {
    if (exclusive) this.exclusive = true;
    else this.shared++;
  }

  private release(exclusive: boolean): void {
    if (exclusive) this.exclusive = false;
    else this.shared--;
    while (this.queue.length > 0 && this.canEnter(this.queue[0]!.exclusive)) {
      const next = this.queue.shift()!;
      this.enter(next.exclusive);
      next.resolve();
      if (next.exclusive) break;
    }
  }
}
