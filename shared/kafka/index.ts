export { KafkaClientOptionsSchema, BrokerSchema, BROKER_PATTERN, type KafkaClientOptions } from './options.js';
export { createKafka, disconnectQuietly, toRoadlogError, withDeadline } from './client.js';
