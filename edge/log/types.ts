import type { Registry } from 'prom-client';
import type { FileLayer } from './file-layer.js';
import type { IsProcessAlive } from './lock.js';
import type { Lane } from './options.js';
import type { RecordHeader } from './record.js';

/** The edge log's public types: what goes in and comes out of `EdgeLog` (log.ts). */
export interface AppendInput {
  /** The vehicleId: picks the partition, so one vehicle's records stay in order. */
  key: string;
  value: Uint8Array | string;
  /** Device timestamp (ms); defaults to the ingest time. */
  deviceTs?: number;
  /** Alarms and trouble codes: stored in the `critical` lane, served first, evicted last. */
  critical?: boolean;
  /** `dead` for invalid payloads (put the reason in a header); otherwise chosen by `critical`. */
  lane?: Lane;
  headers?: readonly RecordHeader[];
}

export interface AppendResult {
  lane: Lane;
  partition: number;
  offset: number;
}

export interface LogLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface EdgeLogDeps {
  fileLayer?: FileLayer;
  logger?: LogLogger;
  /** Registry for the log's metrics (a private one when absent). */
  metrics?: Registry;
  now?: () => number;
  /** Decides whether the pid in a found lock file still runs (tests of crashes in one process pass their own). */
  isProcessAlive?: IsProcessAlive;
}

export interface PartitionStats {
  lane: Lane;
  partition: number;
  startOffset: number;
  endOffset: number;
  bytes: number;
  segments: number;
  firstTs: number;
  maxTs: number;
}

export interface PartitionBacklog {
  lane: Lane;
  partition: number;
  records: number;
  bytes: number;
  /** Undefined when the oldest waiting offsets are damaged or a gap. */
  oldestIngestTs: number | undefined;
  oldestDeviceTs: number | undefined;
}
