/**
 * One holder at a time, in arrival order; a holder that throws lets the next one run.
 *
 * The edge log has one per (lane, partition): its flush cycle and the deletion of its segments
 * take it, so deleting a segment in one partition never waits for another partition's
 * fdatasync. The cursor store has one per cursor (its saves share a temp file, and the last
 * call must be the value that stays), the ingress throttle one per vehicle (its delayed
 * messages go in order), the embedded broker one for its scrypt checks.
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

  /** Resolves when no holder runs or waits, counting those that arrive meanwhile. Never rejects. */
  async idle(): Promise<void> {
    while (this.waiting > 0) await this.tail;
  }
}
