export { Forwarder, type ForwarderDeps, type ForwarderTopics } from './forwarder.js';
export { ForwarderOptionsSchema, type ForwarderOptions } from './options.js';
export { toKafkaRecord } from './records.js';
