/**
 * Which (seq, device time) pairs of one vehicle the archive already holds, so that a device's
 * retry (the same message published again after a lost PUBACK: same seq, same ts, a new edge
 * offset) is archived once.
 *
 * A vehicle numbers its records one more each, so what it sent is a few runs of consecutive
 * seqs: kept as runs [seqLo, seqHi, tsLo, tsHi], device time rising along a run. A record is a
 * repeat when a run holds its seq with its ts inside the run's time span. The time span is what
 * tells a retry from a device that restarted its count (seq 0 again, a later ts): that one is
 * new. Runs start anywhere (the critical lane delivers some records ahead of the rest after an
 * outage), grow at either end and merge when they meet.
 *
 * Bounded: at most MAX_RUNS per vehicle, the runs with the oldest device time go first. A retry
 * of a record that old is archived a second time (counted nowhere: it cannot be told apart); a
 * record is never taken for a repeat wrongly, so nothing is lost.
 */
export type Run = [seqLo: number, seqHi: number, tsLo: number, tsHi: number];

export const MAX_RUNS = 64;

export class SeqRuns {
  private readonly runs = new Map<string, Run[]>();

  /** True when (vehicleId, seq, ts) was seen before; records it otherwise. */
  seen(vehicleId: string, seq: number, ts: number): boolean {
    let runs = this.runs.get(vehicleId);
    if (runs === undefined) this.runs.set(vehicleId, (runs = []));
    // Newest run first: the usual record extends it.
    for (let i = runs.length - 1; i >= 0; i--) {
      const r = runs[i]!;
      if (seq >= r[0] && seq <= r[1] && ts >= r[2] && ts <= r[3]) return true;
    }
    for (let i = runs.length - 1; i >= 0; i--) {
      const r = runs[i]!;
      if (seq === r[1] + 1 && ts >= r[3]) {
        r[1] = seq;
        r[3] = ts;
        this.mergeAfter(runs, i);
        return false;
      }
      if (seq === r[0] - 1 && ts <= r[2]) {
        r[0] = seq;
        r[2] = ts;
        this.mergeBefore(runs, i);
        return false;
      }
    }
    runs.push([seq, seq, ts, ts]);
    if (runs.length > MAX_RUNS) {
      let oldest = 0;
      for (let i = 1; i < runs.length; i++) if (runs[i]![3] < runs[oldest]![3]) oldest = i;
      runs.splice(oldest, 1);
    }
    return false;
  }

  /** Run i grew at its top: join a run that starts right after it. */
  private mergeAfter(runs: Run[], i: number): void {
    const r = runs[i]!;
    const j = runs.findIndex((s) => s[0] === r[1] + 1 && s[2] >= r[3]);
    if (j < 0) return;
    r[1] = runs[j]![1];
    r[3] = runs[j]![3];
    runs.splice(j, 1);
  }

  /** Run i grew at its bottom: join a run that ends right before it. */
  private mergeBefore(runs: Run[], i: number): void {
    const r = runs[i]!;
    const j = runs.findIndex((s) => s[1] === r[0] - 1 && s[3] <= r[2]);
    if (j < 0) return;
    r[0] = runs[j]![0];
    r[2] = runs[j]![2];
    runs.splice(j, 1);
  }

  get vehicles(): number {
    return this.runs.size;
  }

  snapshot(): Record<string, Run[]> {
    return Object.fromEntries([...this.runs].map(([v, runs]) => [v, runs.map((r) => [...r] as Run)]));
  }

  static restore(snapshot: Record<string, Run[]>): SeqRuns {
    const s = new SeqRuns();
    for (const [v, runs] of Object.entries(snapshot)) s.runs.set(v, runs.map((r) => [...r] as Run));
    return s;
  }
}
