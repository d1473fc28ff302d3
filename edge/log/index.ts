export { openLog, EdgeLog, partitionDir, LOG_FORMAT_VERSION, type AppendInput, type AppendResult, type EdgeLogDeps, type LogLogger, type PartitionStats, type PartitionBacklog } from './log.js';
export { LogReader, type ReadBatch, type ReadRecord, type SkippedRange } from './reader.js';
export { DEFAULT_PARTITIONS, EdgeLogOptionsSchema, parseEdgeLogOptions, LANES, type Lane, type EdgeLogOptions, type EdgeLogOptionsInput } from './options.js';
export { nodeFileLayer, type FileLayer, type LogFile, type OpenMode } from './file-layer.js';
export { SimulatedFileLayer, type FaultInjector, type FaultOp } from './simulated-file-layer.js';
export { encodeRecord, decodeRecord, type LogRecord, type RecordHeader, type RecordInput } from './record.js';
export { crc32c } from './crc32c.js';
export { type CursorPositions, positionKey } from './cursor.js';
export { asLogError } from './errors.js';
