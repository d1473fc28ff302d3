import { join } from 'node:path';
import type { Registry } from 'prom-client';
import { createMetricsRegistry, startMetricsServer, type MetricsServer } from '../../shared/metrics/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { openLog, type AppendInput, type AppendResult, type EdgeLog } from '../log/index.js';
import { loadCredentials, type Credential } from '../ingress/credentials.js';
import { EmbeddedBroker, type Listener } from '../ingress/broker.js';
import { createIngressMetrics } from '../ingress/metrics.js';
import { Ingest } from '../ingress/pipeline.js';
import { UpstreamSubscriber } from '../ingress/upstream.js';
import type { EdgeAgentOptions } from './options.js';

/**
 * The edge agent: the edge log, the MQTT ingress in front of it, and the HTTP endpoints.
 * Start order: log → ingress → HTTP; `close()` goes in reverse: stop accepting MQTT and let
 * in-flight publishes finish, flush and fsync the log, then stop HTTP. Idempotent.
 */
export interface EdgeAgent {
  readonly gatewayId: string;
  readonly log: EdgeLog;
  readonly listeners: readonly Listener[];
  readonly http: MetricsServer;
  readonly registry: Registry;
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
}

export async function createEdgeAgent(options: EdgeAgentOptions, deps: EdgeAgentDeps): Promise<EdgeAgent> {
  const { logger } = deps;
  const registry = deps.registry ?? createMetricsRegistry({ gateway: options.gatewayId });
  const credentials: Map<string, Credential> = options.mqtt.credentialsFile === undefined ? new Map() : await loadCredentials(options.mqtt.credentialsFile);
  const log = await openLog(join(options.dataDir, 'log'), options.log, { metrics: registry, logger: logger.child({ component: 'log' }) });
  const cleanups: (() => Promise<void>)[] = [() => log.close()];
  try {
    const metrics = createIngressMetrics(registry);
    const ingest = new Ingest({
      append: deps.appendHook === undefined ? (input) => log.append(input) : (input) => deps.appendHook!(input, (i) => log.append(i)),
      metrics,
      maxPayloadBytes: Math.min(options.mqtt.maxPacketBytes, 16 * 1024),
      dedupWindow: options.mqtt.dedupWindow,
      // Client mode: one upstream stream, acknowledged in order; the upstream broker's limits apply.
      ...(options.mqtt.mode === 'embedded' ? { rate: options.mqtt.rateLimit } : {}),
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
    const http = await startMetricsServer({
      registry,
      host: options.http.host,
      port: options.http.port,
      health: () => ({
        ready: upstream === undefined || upstream.connected,
        details: { gateway: options.gatewayId, log: 'open', mqtt: options.mqtt.mode === 'embedded' ? listeners.map((l) => l.url) : { upstream: options.mqtt.upstream!.url, connected: upstream?.connected } },
      }),
    });
    cleanups.push(() => http.close());
    let closing: Promise<void> | undefined;
    logger.info({ gateway: options.gatewayId, dataDir: options.dataDir, mqtt: listeners.map((l) => l.url), http: http.url }, 'edge agent ready');
    return {
      gatewayId: options.gatewayId,
      log,
      listeners,
      http,
      registry,
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
