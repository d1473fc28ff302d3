import type { ISocketFactory, KafkaConfig, LogEntry } from 'kafkajs';
import { Kafka, logLevel } from './kafkajs.js';
import type { Logger } from '../logging/index.js';
import type { KafkaClientOptions } from './options.js';
import { RoadlogError } from '../errors/index.js';
import { kafkaSecurity, tlsSniffingSocketFactory, TLS_EXPECTED } from './security.js';

/**
 * One place that turns roadlog's Kafka options into a kafkajs client: brokers, timeouts,
 * TLS/SASL, kafkajs's own logs routed into our logger, and a retry policy bounded so that a
 * CLI command against a dead cluster fails within `operationTimeoutMs`, never hangs.
 */
export function createKafka(options: KafkaClientOptions, logger?: Logger, overrides: Partial<KafkaConfig> = {}): Kafka {
  quietNegativeTimeoutWarnings();
  if (options.brokers.length === 0) {
    throw new RoadlogError('ROADLOG_ERR_KAFKA_NO_CLUSTER', 'no Kafka brokers: pass --brokers host:port, set ROADLOG_KAFKA_BROKERS, or run `roadlog kafka start`');
  }
  const { ssl, sasl } = kafkaSecurity(options);
  if (options.tls?.rejectUnauthorized === false) logger?.warn({ setting: 'kafka.tls.rejectUnauthorized' }, 'kafka.tls.rejectUnauthorized is false: the brokers\' certificates are not checked');
  const { socketFactory, ...rest } = overrides;
  return new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    connectionTimeout: options.connectionTimeoutMs,
    requestTimeout: options.requestTimeoutMs,
    ssl,
    ...(sasl === undefined ? {} : { sasl }),
    retry: { initialRetryTime: 200, maxRetryTime: 2_000, retries: 3, factor: 0.2, multiplier: 2 },
    logLevel: logLevel.INFO,
    logCreator: () => (entry: LogEntry) => routeLog(logger, entry),
    // A plaintext client on a TLS listener fails saying so, not as "Closed connection".
    socketFactory: withoutNagle(tlsSniffingSocketFactory(socketFactory)),
    ...rest,
  });
}

/**
 * TCP_NODELAY on every broker connection, as Kafka's Java client sets it. kafkajs leaves
 * Nagle's algorithm on, so a small request written while an earlier one on the same connection
 * is unacknowledged could wait for the broker's delayed ACK (up to 40 ms on Linux).
 */
function withoutNagle(inner: ISocketFactory): ISocketFactory {
  return (args) => {
    const socket = inner(args);
    socket.setNoDelay(true);
    return socket;
  };
}

function routeLog(logger: Logger | undefined, { level, log }: LogEntry): void {
  if (logger === undefined) return;
  const { message, timestamp: _ts, logger: _l, ...rest } = log;
  const fields = { component: 'kafkajs', ...rest };
  // kafkajs logs every retried connection failure at ERROR; they are expected while a
  // broker is down and are reported once, by our own error, so they go to debug.
  if (level === logLevel.ERROR || level === logLevel.WARN) logger.debug(fields, message);
  else if (level === logLevel.INFO) logger.debug(fields, message);
  else logger.trace(fields, message);
}

const UNAVAILABLE_NAMES = new Set([
  'KafkaJSConnectionError',
  'KafkaJSBrokerNotFound',
  'KafkaJSRequestTimeoutError',
  'KafkaJSConnectionClosedError',
  'KafkaJSLockTimeout',
]);

/** Map a kafkajs (or network) error to a RoadlogError with a stable code. */
export function toRoadlogError(err: unknown, what: string): RoadlogError {
  if (err instanceof RoadlogError) return err;
  const chain = causeChain(err);
  const type = kafkaErrorType(err);
  if (type === 'UNKNOWN_TOPIC_OR_PARTITION' || type === 'UNKNOWN_TOPIC_ID') {
    return new RoadlogError('ROADLOG_ERR_KAFKA_TOPIC_NOT_FOUND', `${what}: topic does not exist`, { cause: err });
  }
  if (chain.some((e) => e.name === 'KafkaJSSASLAuthenticationError')) {
    return new RoadlogError('ROADLOG_ERR_KAFKA_AUTH', `${what}: SASL authentication failed (${lastMessage(chain)}): check kafka.sasl (mechanism, username, password)`, { cause: err });
  }
  const tls = chain.find((e) => isTlsFailure(e));
  if (tls !== undefined) {
    return new RoadlogError('ROADLOG_ERR_KAFKA_TLS', `${what}: TLS failed: ${tls.message.replace(/^Connection error: /, '')}${tlsHint((tls as { code?: string }).code)}`, { cause: err, details: { tlsCode: (tls as { code?: string }).code } });
  }
  const unavailable = chain.some((e) => UNAVAILABLE_NAMES.has(e.name) || /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|ECONNRESET/.test(e.message));
  if (unavailable) {
    // A broker that requires SASL closes a client that does not log in: no error of its own.
    const closed = chain.some((e) => e.name === 'KafkaJSConnectionClosedError') ? '; a listener that requires SASL closes clients that do not log in (kafka.sasl)' : '';
    return new RoadlogError('ROADLOG_ERR_KAFKA_UNAVAILABLE', `${what}: no Kafka broker answered (${lastMessage(chain)}${closed})`, { cause: err });
  }
  const detail = type ?? lastMessage(chain);
  return new RoadlogError('ROADLOG_ERR_KAFKA_REQUEST', `${what}: ${detail}`, { cause: err });
}

/** Node's (OpenSSL's) certificate verification failures, by `err.code`. */
const CERTIFICATE_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'CERT_SIGNATURE_FAILURE', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
  'CERT_REVOKED', 'INVALID_CA', 'INVALID_PURPOSE', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function isTlsFailure(e: Error): boolean {
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && (CERTIFICATE_CODES.has(code) || code === TLS_EXPECTED || /^ERR_(SSL|TLS)_/.test(code))) return true;
  // A TLS client on a plaintext listener: the broker drops the handshake it cannot read.
  return /before secure TLS connection was established/.test(e.message);
}

function tlsHint(code: string | undefined): string {
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return ' (the certificate does not name this host: connect by a name it has, or set kafka.tls.servername)';
  if (code !== undefined && CERTIFICATE_CODES.has(code)) return ' (the broker\'s certificate is not signed by a CA this client trusts: set kafka.tls.caFile to the cluster\'s CA)';
  if (code === TLS_EXPECTED) return '';
  return ' (is this a TLS listener? a plaintext one drops a TLS client\'s handshake)';
}

/** The Kafka protocol error type of a kafkajs error (`OUT_OF_ORDER_SEQUENCE_NUMBER`, ...), also when it is wrapped as a cause. */
export function kafkaErrorType(err: unknown): string | undefined {
  const protocol = causeChain(err).find((e) => typeof (e as { type?: unknown }).type === 'string') as { type: string } | undefined;
  return protocol?.type;
}

function causeChain(err: unknown): Error[] {
  const out: Error[] = [];
  let cur: unknown = err;
  while (cur instanceof Error && out.length < 10) {
    out.push(cur);
    const next = (cur as { originalError?: unknown }).originalError ?? cur.cause;
    cur = next;
  }
  return out;
}

function lastMessage(chain: Error[]): string {
  return chain[chain.length - 1]?.message ?? 'unknown error';
}

/**
 * Run `op` and fail with ROADLOG_ERR_KAFKA_UNAVAILABLE if it has not settled within `ms`.
 * kafkajs's own retries are bounded too; this is the belt to their braces.
 */
export async function withDeadline<T>(op: () => Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RoadlogError('ROADLOG_ERR_KAFKA_UNAVAILABLE', `${what}: no answer from Kafka within ${ms} ms`)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([op().catch((err: unknown) => Promise.reject(toRoadlogError(err, what))), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Disconnect without letting a dead broker hold the process: kafkajs waits for in-flight
 * requests (up to requestTimeoutMs) before closing; after `ms` we stop waiting. Never throws.
 */
export async function disconnectQuietly(client: { disconnect(): Promise<void> }, ms = 2_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.disconnect().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}

let quieted = false;

/**
 * kafkajs 2.2.4 schedules some timers at `deadline - Date.now()`, which is negative once the
 * deadline has passed (tulios/kafkajs#1751). Node runs such a timer after 1 ms, which is what
 * kafkajs means, but since Node 24 it also prints a TimeoutNegativeWarning on stderr each
 * time: noise in every command's output and the agent's log. This drops that one warning
 * type, for the whole process, once a Kafka client exists; every other warning still prints.
 */
export function quietNegativeTimeoutWarnings(): void {
  if (quieted) return;
  quieted = true;
  const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = function (warning: string | Error, ...rest: unknown[]): void {
    const first = rest[0];
    const type = typeof first === 'string' ? first : (first as { type?: unknown } | undefined)?.type;
    if (type === 'TimeoutNegativeWarning' || (warning instanceof Error && warning.name === 'TimeoutNegativeWarning')) return;
    emitWarning(warning, ...rest);
  } as typeof process.emitWarning;
}

