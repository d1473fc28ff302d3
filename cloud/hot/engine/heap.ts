/** A binary min-heap of [key, id] pairs on a plain array (lazy deletion is the caller's: it skips stale entries). */
export function heapPush(h: [number, string][], item: [number, string]): void {
  h.push(item);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p]![0] <= h[i]![0]) break;
    [h[p], h[i]] = [h[i]!, h[p]!];
    i = p;
  }
}

export function heapPop(h: [number, string][]): void {
  const last = h.pop()!;
  if (h.length === 0) return;
  h[0] = last;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let m = i;
    if (l < h.length && h[l]![0] < h[m]![0]) m = l;
    if (r < h.length && h[r]![0] < h[m]![0]) m = r;
    if (m === i) return;
    [h[m], h[i]] = [h[i]!, h[m]!];
    i = m;
  }
}
