/**
 * Child process for the kill -9 test: appends to the log at argv[2] in a loop, 32 appends in
 * flight, and writes `ack <seq>` to stdout for every append that resolved (stdout is a pipe:
 * synchronous on Linux, so a reported ack is in the parent's pipe before the next append).
 * Runs until killed.
 */
import { openLog } from '../../../../edge/log/log.js';

const dir = process.argv[2]!;
let seq = Number(process.argv[3] ?? 0);
const log = await openLog(dir, { partitions: 4, segmentBytes: 64 * 1024, allowSmallSegments: true, indexIntervalBytes: 1024, maxBatchDelayMs: 1 });
process.stdout.write('ready\n');

async function worker(): Promise<void> {
  for (;;) {
    const s = seq++;
    const key = `veh-${s % 20}`;
    await log.append({ key, value: JSON.stringify({ key, seq: s, pad: 'x'.repeat(s % 300) }), critical: s % 17 === 0 });
    process.stdout.write(`ack ${s}\n`);
  }
}
await Promise.all(Array.from({ length: 32 }, () => worker()));
