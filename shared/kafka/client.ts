import { Kafka, logLevel, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs';
import type { Logger } from '../logging/index.js';
import type { KafkaClientOptions } from './options.js';
import { RoadlogError } from '../errors/index.js';

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
  return new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    connectionTimeout: options.connectionTimeoutMs,
    requestTimeout: options.requestTimeoutMs,
    ssl: options.ssl,
    ...(options.sasl === undefined ? {} : { sasl: { ...options.sasl } as SASLOptions }),
    retry: { initialRetryTime: 200, maxRetryTime: 2_000, retries: 3, factor: 0.2, multiplier: 2 },
    logLevel: logLevel.INFO,
    logCreator: () => (entry: LogEntry) => routeLog(logger, entry),
    ...overrides,
  });
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
  const unavailable = chain.some((e) => UNAVAILABLE_NAMES.has(e.name) || /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|ECONNRESET/.test(e.message));
  if (unavailable) {
    return new RoadlogError('ROADLOG_ERR_KAFKA_UNAVAILABLE', `${what}: no Kafka broker answered (${lastMessage(chain)})`, { cause: err });
  }
  const detail = type ?? lastMessage(chain);
  return new RoadlogError('ROADLOG_ERR_KAFKA_REQUEST', `${what}: ${detail}`, { cause: err });
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

