/** mulberry32: a small seeded PRNG, so every random test can be replayed from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const randInt = (r: () => number, n: number): number => Math.floor(r() * n);

/** A telemetry-like record input for key `k` and sequence `i`. */
export function sampleInput(r: () => number, key: string, i: number, critical = false) {
  const pad = 'x'.repeat(randInt(r, 200));
  return { key, value: Buffer.from(JSON.stringify({ vehicleId: key, seq: i, pad })), deviceTs: 1_767_225_600_000 + i, critical };
}
