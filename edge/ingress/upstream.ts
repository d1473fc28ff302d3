import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from '../../shared/logging/index.js';
import { vehicleOfTopic } from './identity.js';
import type { Ingest } from './pipeline.js';
import type { IngressOptions } from './options.js';

/**
 * Client mode: instead of running a broker, subscribe to an existing one (Mosquitto) at QoS 1
 * with a persistent session (fixed client id, clean: false), and acknowledge each message
 * upstream only when the append resolved. mqtt.js sends the PUBACK when its `handleMessage`
 * callback is called and handles one message at a time, so the log keeps the upstream order.
 * A message whose append fails is not acknowledged; the session is dropped and re-opened a
 * second later, and the upstream broker delivers the message again.
 *
 * The vehicle id is taken from the topic (`fleet/{vehicleId}/telemetry`): the upstream broker
 * authenticated the vehicle. Messages on other topics go to the dead-letter lane.
 */
export class UpstreamSubscriber {
  private client: MqttClient | undefined;
  private closing: Promise<void> | undefined;
  connected = false;

  constructor(
    private readonly options: NonNullable<IngressOptions['upstream']>,
    private readonly ingest: Ingest,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const o = this.options;
    const client = mqtt.connect(o.url, {
      clientId: o.clientId,
      clean: false,
      protocolVersion: 4,
      reconnectPeriod: 1_000,
      connectTimeout: 10_000,
      ...(o.username === undefined ? {} : { username: o.username }),
      ...(o.password === undefined ? {} : { password: o.password }),
    });
    this.client = client;
    client.handleMessage = (packet, callback) => {
      const topic = packet.topic;
      const vehicleId = vehicleOfTopic(topic);
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      const message = { vehicleId: vehicleId ?? 'unknown', clientId: o.clientId, topic, payload, qos: packet.qos };
      // A topic that names no vehicle was accepted upstream already: keep it as a dead letter.
      (vehicleId === undefined ? this.ingest.ingestUnroutable(message) : this.ingest.ingest(message)).then(
        () => callback(),
        (err: unknown) => {
          this.logger.warn({ err: (err as Error).message, topic }, 'upstream message not stored; reconnecting to have it delivered again');
          // No PUBACK: drop the connection without acknowledging; the session keeps the message.
          client.stream?.destroy();
          callback(err as Error);
        },
      );
    };
    client.on('connect', (connack) => {
      this.connected = true;
      this.logger.info({ url: o.url, sessionPresent: connack.sessionPresent }, 'connected to the upstream broker');
      if (!connack.sessionPresent) {
        client.subscribe(o.topic, { qos: 1 }, (err) => {
          if (err) this.logger.error({ err: err.message, topic: o.topic }, 'upstream subscribe failed');
        });
      }
    });
    client.on('close', () => (this.connected = false));
    client.on('error', (err) => this.logger.warn({ err: err.message, url: o.url }, 'upstream broker error'));
    await new Promise<void>((resolve) => {
      // Ready once connected; if the upstream is down, keep retrying in the background.
      const timer = setTimeout(resolve, 2_000);
      client.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      if (this.client === undefined) return resolve();
      this.client.end(false, {}, () => resolve());
    });
    return this.closing;
  }
}
