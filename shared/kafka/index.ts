export { KafkaClientOptionsSchema, BrokerSchema, BROKER_PATTERN, type KafkaClientOptions } from './options.js';
export { kafkaSecurity, tlsSniffingSocketFactory, TLS_EXPECTED, type KafkaSecurity } from './security.js';
export { createKafka, quietNegativeTimeoutWarnings, disconnectQuietly, kafkaErrorType, toRoadlogError, withDeadline } from './client.js';
export { sendPerPartition, sendRound, type RoundChunk, groupByPartition, chunkByBytes, estimatedBytes, UnacknowledgedSendError, type Unacknowledged, type KeyedRecord, type PartitionAcks, type SendPerPartitionOptions } from './send.js';
