import type { Clock } from '../../../../edge/ingress/throttle.js';

/**
 * A clock that moves only when the test says so. `advance(ms)` wakes every sleeper due by
 * then, in time order (ties in the order they went to sleep), each at its own time, and lets
 * what a wake-up starts run (and go back to sleep) before the next.
 */
export class ManualClock implements Clock {
  private time = 0;
  private readonly sleepers: { at: number; wake: () => void }[] = [];

  now(): number {
    return this.time;
  }

  sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((wake) => this.sleepers.push({ at: this.time + ms, wake }));
  }

  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      await new Promise((r) => setImmediate(r)); // what the last wake-up started, up to its next sleep
      let next = -1;
      for (let i = 0; i < this.sleepers.length; i++) {
        const at = this.sleepers[i]!.at;
        if (at <= end && (next < 0 || at < this.sleepers[next]!.at)) next = i;
      }
      if (next < 0) break;
      const [due] = this.sleepers.splice(next, 1);
      this.time = due!.at;
      due!.wake();
    }
    this.time = end;
  }
}
