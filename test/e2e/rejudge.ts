/**
 * Judges a soak's samples again, with another warm-up or window, without running it again:
 *   npx tsx test/e2e/rejudge.ts RUN_DIR/samples.json [--warmup 10m] [--window 5m] [--tolerance 0.10]
 * (test:soak saves every sample to its run folder's samples.json.)
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseDuration } from '../../shared/cli/context.js';
import { formatResources, judge, type Sample } from './resources.js';
import { JUDGED } from './soak.js';

const { values: f, positionals } = parseArgs({ allowPositionals: true, options: { warmup: { type: 'string', default: '10m' }, window: { type: 'string', default: '5m' }, tolerance: { type: 'string', default: '0.10' } } });
if (positionals.length !== 1) {
  process.stderr.write('usage: npx tsx test/e2e/rejudge.ts RUN_DIR/samples.json [--warmup 10m] [--window 5m] [--tolerance 0.10]\n');
  process.exit(2);
}
const samples = JSON.parse(await readFile(positionals[0]!, 'utf8')) as Sample[];
const verdicts = judge(samples, { warmupMs: parseDuration(f.warmup!, '--warmup'), windowMs: parseDuration(f.window!, '--window'), tolerance: Number(f.tolerance), judged: JUDGED });
process.stdout.write(formatResources(verdicts));
