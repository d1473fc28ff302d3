/**
 * Device retries: a vehicle that did not see its PUBACK sends the same record again (same
 * vehicleId and seq). Each vehicle's last `window` seqs are remembered; a seq among them is a
 * duplicate. Seqs older than the window cannot be told apart and are appended (downstream
 * consumers drop them by (vehicleId, seq)). Memory: at most `window` numbers per vehicle, and
 * at most `maxVehicles` vehicles (least recently seen forgotten first). In memory only: after
 * a restart a retry may be appended twice, which the same downstream rule covers.
 */
export class DedupWindow {
  private readonly seen = new Map<string, { set: Set<number>; order: number[] }>();

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
      entry = { set: new Set(), order: [] };
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
    entry.order.push(seq);
    if (entry.order.length > this.window) entry.set.delete(entry.order.shift()!);
  }
}
