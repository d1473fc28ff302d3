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
    /** TLS with the system's CAs: a shorthand for `tls: {}`. */
    ssl: z.boolean().default(false),
    /** TLS to the brokers. Files are PEM, read when a client is created. */
    tls: z
      .object({
        /** The CA(s) to trust instead of the system's, e.g. the `--secure` cluster's ca.pem. */
        caFile: z.string().min(1).optional(),
        /** A client certificate and its key, for brokers that ask for one (mutual TLS). */
        certFile: z.string().min(1).optional(),
        keyFile: z.string().min(1).optional(),
        /** The name the broker certificate must carry, when it is not the host in `brokers` (also sent as SNI). */
        servername: z.string().min(1).optional(),
        /** false: accept any certificate. For a test bench only: anyone on the path can read and change the traffic. */
        rejectUnauthorized: z.boolean().default(true),
      })
      .strict()
      .superRefine((t, ctx) => {
        if ((t.certFile === undefined) !== (t.keyFile === undefined)) {
          ctx.addIssue({ code: 'custom', path: [t.certFile === undefined ? 'certFile' : 'keyFile'], message: 'expected certFile and keyFile together (a client certificate needs its key)' });
        }
      })
      .optional(),
    /** SASL login on the brokers' SASL_SSL (or SASL_PLAINTEXT) listener. */
    sasl: z
      .object({
        mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
        username: z.string().min(1),
        /** The password, or (better: it stays out of the config file) a file holding it. */
        password: z.string().min(1).optional(),
        passwordFile: z.string().min(1).optional(),
      })
      .strict()
      .superRefine((s, ctx) => {
        if ((s.password === undefined) === (s.passwordFile === undefined)) {
          ctx.addIssue({ code: 'custom', path: ['password'], message: 'expected exactly one of password and passwordFile' });
        }
      })
      .optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    // PLAIN sends the password as it is: only inside TLS.
    if (o.sasl?.mechanism === 'plain' && !o.ssl && o.tls === undefined) {
      ctx.addIssue({ code: 'custom', path: ['sasl', 'mechanism'], message: 'plain sends the password in clear text: expected kafka.tls (or ssl: true) with it, or scram-sha-512' });
    }
  });

export type KafkaClientOptions = z.output<typeof KafkaClientOptionsSchema>;
