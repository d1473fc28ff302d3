import type { Sample } from './sample.js';

/**
 * Puts one vehicle's records back in order and drops repeats, so that neither a duplicate nor
 * a record that arrives out of order (within the allowed lateness) changes what the rules see.
 *
 * A vehicle numbers its records (`seq`, one more per record), so the next one is known: a
 * record with seq = last released + 1 is released at once (the usual case: no added latency).
 * Any other newer record waits until the missing ones arrive, or until they are known not to be
 * coming: the vehicle's newest device time is `allowedLateness` past it (a vehicle's full buffer
 * drops its oldest), or, for a record the gateway forwarded ahead of the rest (its `critical`
 * lane: records with trouble codes go first after an outage), until the gateway's `normal` lane
 * has moved the allowed lateness past it (`caughtUp`). Never by the wall clock: a replay must
 * release records exactly as the first run did. A record
 * at or below the last released seq is a repeat (same seq) or came too late to be evaluated in
 * order; both are counted, neither is evaluated. A lower seq whose device time is more than the
 * allowed lateness past the last released one is a device that restarted its count: it goes on
 * from there.
 *
 * State: the last released seq and device time, the newest device time seen, and what waits.
 */
export interface OrderState {
  lastSeq: number | null;
  lastTs: number | null;
  maxTs: number | null;
  held: Sample[];
  /** Seq ranges skipped when records were released over a gap (the newest MAX_GAPS): a record from one of them came too late; any other old seq is a repeat. */
  gaps: [number, number][];
}

const MAX_GAPS = 32;

export type Verdict = 'released' | 'held' | 'duplicate' | 'too-late';

export function newOrderState(): OrderState {
  return { lastSeq: null, lastTs: null, maxTs: null, held: [], gaps: [] };
}

export class VehicleOrder {
  constructor(
    private readonly allowedLatenessMs: number,
    /** For a held record: whether everything that could still fill the gap before it has arrived (undefined: judge by the vehicle's own time). */
    private readonly caughtUp: (held: Sample) => boolean | undefined = () => undefined,
  ) {}

  /** Takes a record; returns what it did with it and the records now released, in order. */
  offer(state: OrderState, s: Sample): { verdict: Verdict; released: Sample[] } {
    const seq = s.t.seq;
    // A counter that went back while device time moved well ahead: the device restarted its count.
    if (state.lastSeq !== null && seq <= state.lastSeq && state.lastTs !== null && s.t.ts > state.lastTs + this.allowedLatenessMs && state.held.length === 0) state.lastSeq = seq - 1;
    if (state.lastSeq !== null && seq <= state.lastSeq) return { verdict: state.gaps.some(([a, b]) => seq >= a && seq <= b) ? 'too-late' : 'duplicate', released: [] };
    if (state.held.some((h) => h.t.seq === seq)) return { verdict: 'duplicate', released: [] };
    state.maxTs = Math.max(state.maxTs ?? s.t.ts, s.t.ts);
    if (state.lastSeq === null || seq === state.lastSeq + 1) {
      const released = [s];
      this.advance(state, s);
      released.push(...this.drain(state, false));
      return { verdict: 'released', released };
    }
    state.held.push(s);
    state.held.sort((a, b) => a.t.seq - b.t.seq);
    const released = this.drain(state, false);
    return { verdict: released.includes(s) ? 'released' : 'held', released };
  }

  /** Releases what has waited past its limits (call from a timer); `all` releases everything (shutdown, end of a backtest). */
  drain(state: OrderState, all: boolean): Sample[] {
    const out: Sample[] = [];
    while (state.held.length > 0) {
      const next = state.held[0]!;
      const contiguous = state.lastSeq === null || next.t.seq === state.lastSeq + 1;
      const lanes = this.caughtUp(next);
      const overdue = all || (lanes ?? (state.maxTs !== null && next.t.ts <= state.maxTs - this.allowedLatenessMs));
      if (!contiguous && !overdue) break;
      state.held.shift();
      if (state.lastSeq !== null && next.t.seq <= state.lastSeq) continue;
      this.advance(state, next);
      out.push(next);
    }
    return out;
  }

  private advance(state: OrderState, s: Sample): void {
    if (state.lastSeq !== null && s.t.seq > state.lastSeq + 1) {
      state.gaps.push([state.lastSeq + 1, s.t.seq - 1]);
      if (state.gaps.length > MAX_GAPS) state.gaps.shift();
    }
    state.lastSeq = s.t.seq;
    state.lastTs = s.t.ts;
  }
}
