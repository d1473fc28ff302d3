/**
 * Child of young-generation.test.ts (its own V8, so the flags it sets stay here): applies the
 * ceiling and growth given in argv, allocates briskly for a while, keeping part of it alive as a
 * busy pipeline does, and prints the young generation's size before and after.
 */
import { allowYoungGenerationGrowth, capYoungGeneration, shrinkHeap, youngGenerationBytes } from '../../../shared/heap/young-generation.js';

const [ceilingMiB, growth, then] = process.argv.slice(2);
capYoungGeneration(Number(ceilingMiB) * 1024 * 1024);
allowYoungGenerationGrowth(growth !== 'pinned');
const before = youngGenerationBytes();
let kept: { text: string; n: number[] }[] = [];
const end = Date.now() + 1_500;
while (Date.now() < end) {
  for (let i = 0; i < 2_000; i++) kept.push({ text: `record ${i} `.repeat(4), n: [i, i + 1] });
  if (kept.length > 200_000) kept = kept.slice(100_000);
  await new Promise((resolve) => setImmediate(resolve)); // GC observers run between turns, as in a server
}
const after = youngGenerationBytes();
const shrinkMs = then === 'shrink' ? shrinkHeap() : undefined;
process.stdout.write(JSON.stringify({ before, after, shrunk: youngGenerationBytes(), shrinkMs, kept: kept.length }) + '\n');
