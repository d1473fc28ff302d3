export { openLog, EdgeLog, partitionDir } from './log.js';
export type { AppendInput, AppendResult, EdgeLogDeps, LogLogger, PartitionStats, PartitionBacklog } from './types.js';
export { LOG_FORMAT_VERSION } from './meta.js';
export { LogReader, type ReadBatch, type ReadRecord, type SkippedRange } from './reader.js';
export { DEFAULT_PARTITIONS, EdgeLogOptionsSchema, parseEdgeLogOptions, LANES, type Lane, type EdgeLogOptions, type EdgeLogOptionsInput } from './options.js';
export { nodeFileLayer, type FileLayer, type LogFile, type OpenMode } from './file-layer.js';
export { encodeRecord, decodeRecord, type LogRecord, type RecordHeader, type RecordInput } from './record.js';
export { crc32c } from './crc32c.js';
export { type CursorPositions, positionKey } from './cursor.js';
