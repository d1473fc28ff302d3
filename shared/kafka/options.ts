import { z } from 'zod';

/** `host:port`, host a name, IPv4 or bracketed IPv6. */
export const BROKER_PATTERN = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):([1-9][0-9]{0,4})$/;

export const BrokerSchema = z.string().regex(BROKER_PATTERN, 'expected host:port');

/** How any roadlog component reaches the Kafka cluster. */
export const KafkaClientOptionsSchema = z
  .object({
    /** Bootstrap servers. Empty: the command line decides (flag, or the cluster `roadlog kafka start` recorded). */
    brokers: z.array(BrokerSchema).default([]),
    clientId: z.string().min(1).max(200).default('roadlog'),
    /** TCP connect timeout per broker. */
    connectionTimeoutMs: z.number().int().min(100).max(120_000).default(3_000),
    requestTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
    /** Upper bound for one admin or CLI operation, retries included: then ROADLOG_ERR_KAFKA_UNAVAILABLE. */
    operationTimeoutMs: z.number().int().min(500).max(600_000).default(15_000),
    ssl: z.boolean().default(false),
    sasl: z
      .object({
        mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
        username: z.string().min(1),
        password: z.string().min(1),
      })
      .strict()
      .optional(),
  })
  .strict();

export type KafkaClientOptions = z.output<typeof KafkaClientOptionsSchema>;
