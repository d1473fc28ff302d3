/**
 * Device retries: a vehicle that did not see its PUBACK sends the same record again (same
 * vehicleId and seq). Each vehicle's last `window` seqs are remembered; a seq among them is a
 * duplicate. Seqs older than the window cannot be told apart and are appended (downstream
 * consumers drop them by (vehicleId, seq)). Memory: at most `window` numbers per vehicle, and
 * at most `maxVehicles` vehicles (least recently seen forgotten first). In memory only: after
 * a restart a retry may be appended twice, which the same downstream rule covers.
 */
export class DedupWindow {
  /** Per vehicle: the seqs in the window, and a ring of them in arrival order (the oldest goes first). */
  private readonly seen = new Map<string, { set: Set<number>; ring: number[]; next: number }>();

  constructor(
    private readonly window: number,
    private readonly maxVehicles = 100_000,
  ) {}

  /** True if (vehicleId, seq) was recorded recently. Does not record it. */
  isDuplicate(vehicleId: string, seq: number): boolean {
    return this.window > 0 && (this.seen.get(vehicleId)?.set.has(seq) ?? false);
  }

  /** Remember (vehicleId, seq) as appended. */
  record(vehicleId: string, seq: number): void {
    if (this.window === 0) return;
    let entry = this.seen.get(vehicleId);
    if (entry === undefined) {
      entry = { set: new Set(), ring: [], next: 0 };
      if (this.seen.size >= this.maxVehicles) {
        const oldest = this.seen.keys().next().value;
        if (oldest !== undefined) this.seen.delete(oldest);
      }
    } else {
      this.seen.delete(vehicleId); // re-insert: Map order is recency
    }
    this.seen.set(vehicleId, entry);
    if (entry.set.has(seq)) return;
    entry.set.add(seq);
    if (entry.ring.length < this.window) {
      entry.ring.push(seq);
      return;
    }
    entry.set.delete(entry.ring[entry.next]!);
    entry.ring[entry.next] = seq;
    entry.next = (entry.next + 1) % this.window;
  }
}
