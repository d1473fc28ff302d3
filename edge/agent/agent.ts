import { join } from 'node:path';
import { Gauge, type Registry } from 'prom-client';
import { createMetricsRegistry, startMetricsServer, type MetricsServer } from '../../shared/metrics/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { parseDuration } from '../../shared/cli/context.js';
import { asFileError } from '../../shared/errors/index.js';
import { openLog, type AppendInput, type AppendResult, type EdgeLog } from '../log/index.js';
import { loadCredentials, type Credential } from '../../shared/credentials/index.js';
import { EmbeddedBroker, type Listener } from '../ingress/broker.js';
import { createIngressMetrics } from '../ingress/metrics.js';
import { Ingest } from '../ingress/pipeline.js';
import type { Clock } from '../ingress/throttle.js';
import { UpstreamSubscriber } from '../ingress/upstream.js';
import type { EdgeAgentOptions } from './options.js';
import type { Forwarder, ForwarderStatus } from '../forwarder/index.js';
import { IDLE, summarize } from '../forwarder/status.js';
import type { KafkaSettings } from './kafka.js';
import { YoungGenerationGovernor, youngGenerationPinned } from './young-generation.js';
import { shrinkHeap, youngGenerationBytes } from '../../shared/heap/young-generation.js';

/**
 * The edge agent: the edge log, the MQTT ingress in front of it, the forwarder behind it
 * (when Kafka brokers are configured) and the HTTP endpoints (/healthz, /metrics, /status).
 * Start order: log → ingress → forwarder → HTTP; `close()`: stop accepting MQTT and let
 * in-flight publishes finish, stop the forwarder after its send in flight, flush and fsync
 * the log, then stop HTTP. Idempotent. Kafka being down never stops the agent from starting
 * or acknowledging: records wait in the log.
 */
export interface EdgeAgent {
  readonly gatewayId: string;
  readonly log: EdgeLog;
  readonly listeners: readonly Listener[];
  readonly http: MetricsServer;
  readonly registry: Registry;
  /** Undefined when no Kafka brokers are configured (or `edge.forwarder.enabled` is false). */
  readonly forwarder: Forwarder | undefined;
  status(): Promise<ForwarderStatus & { forwarder: 'running' | 'disabled' }>;
  close(): Promise<void>;
}

export interface EdgeAgentDeps {
  logger: Logger;
  registry?: Registry;
  /**
   * Wraps every append the ingress makes (default: straight to the log). Tests use it to make
   * an append hang or fail, e.g. to show that an unacknowledged message is delivered again.
   */
  appendHook?: (input: AppendInput, append: (input: AppendInput) => Promise<AppendResult>) => Promise<AppendResult>;
  /** The cluster to forward to (the config's `kafka` and `topics` sections); no brokers: no forwarder. */
  kafka?: KafkaSettings;
  /** The per-vehicle quota's clock (default: real time). Tests pass one they move by hand. */
  quotaClock?: Clock;
}

export async function createEdgeAgent(options: EdgeAgentOptions, deps: EdgeAgentDeps): Promise<EdgeAgent> {
  const { logger } = deps;
  const registry = deps.registry ?? createMetricsRegistry({ gateway: options.gatewayId });
  const credentials: Map<string, Credential> = options.mqtt.credentialsFile === undefined ? new Map() : await loadCredentials(options.mqtt.credentialsFile);
  const log = await openLog(join(options.dataDir, 'log'), options.log, { metrics: registry, logger: logger.child({ component: 'log' }) }).catch((err: unknown) => {
    throw asFileError(err, 'edge.dataDir', options.dataDir); // a directory that cannot be made or written: the user's to fix
  });
  const closeLog = () => log.close();
  const cleanups: (() => Promise<void>)[] = [closeLog];
  try {
    const metrics = createIngressMetrics(registry);
    const ingest = new Ingest({
      append: deps.appendHook === undefined ? (input) => log.append(input) : (input) => deps.appendHook!(input, (i) => log.append(i)),
      metrics,
      maxPayloadBytes: Math.min(options.mqtt.maxPacketBytes, 16 * 1024),
      dedupWindow: options.mqtt.dedupWindow,
      // Client mode: one upstream stream, acknowledged in order; the upstream broker's limits apply.
      ...(options.mqtt.mode === 'embedded' ? { rate: options.mqtt.rateLimit } : {}),
      clock: deps.quotaClock,
    });
    let listeners: Listener[] = [];
    let upstream: UpstreamSubscriber | undefined;
    if (options.mqtt.mode === 'embedded') {
      const broker = await EmbeddedBroker.start({ options: options.mqtt, ingest, credentials, metrics, logger: logger.child({ component: 'mqtt' }) });
      cleanups.unshift(() => broker.close());
      listeners = broker.listeners;
    } else {
      upstream = new UpstreamSubscriber(options.mqtt.upstream!, ingest, logger.child({ component: 'upstream' }));
      await upstream.start();
      cleanups.unshift(() => upstream!.close());
    }
    let forwarder: Forwarder | undefined;
    let drill: import('./uplink-drill.js').UplinkDrill | undefined;
    if (options.forwarder.enabled && deps.kafka !== undefined && deps.kafka.client.brokers.length > 0) {
      // Loaded only here: a gateway with no Kafka configured does not carry kafkajs in memory.
      const { startForwarder } = await import('./kafka.js');
      let settings = deps.kafka;
      if (options.http.drills) {
        const { UplinkDrill } = await import('./uplink-drill.js');
        drill = new UplinkDrill(settings.overrides?.socketFactory);
        settings = { ...settings, overrides: { ...settings.overrides, socketFactory: drill.socketFactory } };
      }
      const started = await startForwarder({ log, settings, options: options.forwarder, gatewayId: options.gatewayId, registry, logger: logger.child({ component: 'forwarder' }) });
      forwarder = started.forwarder;
      cleanups.splice(cleanups.indexOf(closeLog), 0, started.stop);
    } else {
      logger.warn({ gateway: options.gatewayId }, 'no forwarder (kafka.brokers is empty, or edge.forwarder.enabled is false): records stay in the edge log');
    }
    const youngPinned = new Gauge({ name: 'roadlog_edge_young_generation_pinned', help: '1 while the JS heap young generation is kept small (a low message rate), 0 while it may grow', registers: [registry] });
    const governor = new YoungGenerationGovernor(options.memory, () => ingest.received + (forwarder?.forwardedRecords ?? 0), (pinned, rate) => {
      youngPinned.set(pinned ? 1 : 0);
      if (!pinned) return logger.info({ rate: Math.round(rate) }, 'message burst: young generation may grow');
      // What the burst grew V8 keeps while the agent allocates more than ~1 MB/s: give it back once.
      const before = youngGenerationBytes();
      const shrinkMs = shrinkHeap();
      logger.info({ rate: Math.round(rate), shrinkMs: Math.round(shrinkMs), youngGenerationMiB: { before: before / 1_048_576, after: youngGenerationBytes() / 1_048_576 } }, 'message rate low again: young generation pinned small, heap shrunk');
    });
    governor.start();
    youngPinned.set(youngGenerationPinned() ? 1 : 0);
    cleanups.unshift(async () => governor.stop());
    const status = async () => {
      if (forwarder !== undefined) return { ...(await forwarder.status()), forwarder: 'running' as const };
      const partitions = await log.backlog(options.forwarder.cursor);
      return { ...summarize({ gatewayId: options.gatewayId, now: Date.now(), connected: false, lastError: undefined, lastAckAt: undefined, forwardedRecords: 0, drainRate: 0, ...IDLE, partitions }), forwarder: 'disabled' as const };
    };
    const http = await startMetricsServer({
      routes: { '/status': status },
      actions: drill === undefined ? {} : { '/drill/uplink': (q) => uplinkDrill(drill!, q, logger) },
      registry,
      host: options.http.host,
      port: options.http.port,
      setting: 'edge.http.port',
      health: async () => ({
        ready: upstream === undefined || upstream.connected,
        details: {
          gateway: options.gatewayId,
          log: 'open',
          mqtt: options.mqtt.mode === 'embedded' ? listeners.map((l) => l.url) : { upstream: options.mqtt.upstream!.url, connected: upstream?.connected },
          // Kafka being down does not make the gateway unready: it keeps acknowledging into the log.
          kafka: forwarder === undefined ? 'disabled' : (await forwarder.status()).connected ? 'connected' : 'retrying',
        },
      }),
    });
    cleanups.push(() => http.close());
    let closing: Promise<void> | undefined;
    logger.info({ gateway: options.gatewayId, dataDir: options.dataDir, logPartitions: log.partitionCount, mqtt: listeners.map((l) => l.url), http: http.url }, 'edge agent ready');
    return {
      gatewayId: options.gatewayId,
      log,
      listeners,
      http,
      registry,
      forwarder,
      status,
      close: () =>
        (closing ??= (async () => {
          for (const cleanup of cleanups) await cleanup();
          logger.info({ gateway: options.gatewayId }, 'edge agent stopped');
        })()),
    };
  } catch (err) {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
    throw err;
  }
}

/** `POST /drill/uplink?down=60s`: the uplink is cut for that long; `down=0` restores it. */
function uplinkDrill(drill: import('./uplink-drill.js').UplinkDrill, q: URLSearchParams, logger: Logger): unknown {
  const down = q.get('down') ?? '';
  const ms = /^0+$/.test(down) ? 0 : parseDuration(down, 'down');
  if (ms === 0) {
    drill.restore();
    logger.warn('drill: uplink restored');
    return { down: false };
  }
  const r = drill.cut(ms);
  logger.warn({ until: r.downUntil }, 'drill: uplink cut (every Kafka connection reset, new ones refused)');
  return { down: true, ...r };
}
