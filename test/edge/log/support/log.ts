import { openLog, type EdgeLog } from '../../../../edge/log/log.js';
import type { EdgeLogDeps } from '../../../../edge/log/types.js';
import type { EdgeLogOptionsInput } from '../../../../edge/log/options.js';
import type { ReadRecord } from '../../../../edge/log/reader.js';
import { SimulatedFileLayer } from './simulated-file-layer.js';

/** Small segments and no batching delay, so tests roll segments and run fast. */
export const SMALL: EdgeLogOptionsInput = { partitions: 2, segmentBytes: 4096, allowSmallSegments: true, indexIntervalBytes: 256, maxBatchDelayMs: 0 };

export async function simulatedLog(options: EdgeLogOptionsInput = SMALL, deps: EdgeLogDeps = {}) {
  const fs = (deps.fileLayer as SimulatedFileLayer | undefined) ?? (await machine());
  const log = await openLog('/data/log', options, { isProcessAlive: () => false, ...deps, fileLayer: fs });
  return { fs, log };
}

/** A simulated machine whose data directory's parent exists durably (as an installed gateway's would). */
export async function machine(): Promise<SimulatedFileLayer> {
  const fs = new SimulatedFileLayer();
  await fs.mkdir('/data');
  await fs.fsyncDir('/');
  return fs;
}

/** Everything readable from a fresh reader (does not commit). */
export async function readEverything(log: EdgeLog, cursor = 'test-read-all'): Promise<ReadRecord[]> {
  const reader = await log.openReader(cursor);
  const out: ReadRecord[] = [];
  for (;;) {
    const b = await reader.read({ maxRecords: 1000 });
    if (b.records.length === 0) return out;
    out.push(...b.records);
  }
}
