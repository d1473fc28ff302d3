export { Forwarder, type ForwarderDeps, type ForwarderTopics } from './forwarder.js';
export { ForwarderOptionsSchema, type ForwarderOptions, type ForwarderOptionsInput } from './options.js';
export { KafkaRecordEncoder } from './records.js';
export { formatStatus, summarize, DrainRate, type ForwarderStatus } from './status.js';
