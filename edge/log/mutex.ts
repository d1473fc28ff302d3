/**
 * One holder at a time, in arrival order. Each (lane, partition) of the log has one: its
 * flush cycle and the deletion of its segments (retention, the full-disk policy) take it, so
 * deleting a segment in one partition never waits for another partition's fdatasync.
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  private waiting = 0;

  /** Runs `fn` once every earlier holder is done. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const before = this.tail;
    let done!: () => void;
    this.tail = new Promise<void>((resolve) => (done = resolve));
    this.waiting++;
    try {
      await before;
      return await fn();
    } finally {
      this.waiting--;
      done();
    }
  }

  /** Holders running or waiting. */
  get pending(): number {
    return this.waiting;
  }
}
