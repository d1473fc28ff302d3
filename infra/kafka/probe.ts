/** Asking a cluster what it looks like, through kafkajs' admin client (logging off). */
import { Kafka, logLevel } from '../../shared/kafka/kafkajs.js';
import { quietNegativeTimeoutWarnings } from '../../shared/kafka/index.js';

export interface ClusterView {
  clusterId: string;
  controller: number | null;
  brokers: { nodeId: number; host: string; port: number }[];
}

/** describeCluster once, no retries; rejects when no broker answers. */
export async function describeCluster(bootstrapServers: string[], timeoutMs = 2_000): Promise<ClusterView> {
  quietNegativeTimeoutWarnings();
  const kafka = new Kafka({
    clientId: 'roadlog-infra',
    brokers: bootstrapServers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: Math.min(timeoutMs, 1_000),
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    return await admin.describeCluster();
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
