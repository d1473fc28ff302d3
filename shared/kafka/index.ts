export { KafkaClientOptionsSchema, BrokerSchema, BROKER_PATTERN, type KafkaClientOptions } from './options.js';
export { createKafka, toRoadlogError, withDeadline } from './client.js';
