import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import mqttPacket from 'mqtt-packet';
import { verifySecret, type Credential } from '../../shared/credentials/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { Mutex } from '../../shared/mutex/index.js';
import { asFileError, RoadlogError } from '../../shared/errors/index.js';
import { listen } from '../../shared/net/index.js';
import { maySubscribe, vehicleOfTopic, isValidVehicleId } from './identity.js';
import { IngestRejected, type Ingest } from './pipeline.js';
import type { IngressMetrics } from './metrics.js';
import { guardClient } from './packet-guard.js';
import type { IngressOptions } from './options.js';

/**
 * The embedded MQTT broker: aedes on TCP, and optionally TLS (≥ 1.2; with a CA, client
 * certificates are required and their CN is the vehicle id) and WebSocket.
 *
 * The acknowledgment hook: aedes writes PUBACK (QoS 1) / PUBREC (QoS 2) only after the
 * `authorizePublish` callback, so the callback is called when `Ingest.ingest()` has resolved,
 * that is after the record is fsynced in the edge log. A rejection (ACL, full log) calls it
 * with an error: no acknowledgment, and aedes closes the connection (MQTT 3.1.1 has no
 * negative PUBACK). Dead letters are acknowledged but never forwarded to subscribers.
 */
const VEHICLE = Symbol('roadlog.vehicle');

// mqtt-packet (aedes's encoder) otherwise builds, on its first write, a cache of all 65,536
// packet ids as 2-byte Buffers: 6.3 MB of heap, a sixth of the agent's heap with 1,000 vehicles
// connected. Without it each PUBACK allocates its 2-byte id instead (documented option).
mqttPacket.writeToStream.cacheNumbers = false;
const DEAD = Symbol('roadlog.dead');

type VehicleClient = Client & { [VEHICLE]?: string };

export interface EmbeddedBrokerDeps {
  options: IngressOptions;
  ingest: Ingest;
  credentials: Map<string, Credential>;
  metrics: IngressMetrics;
  logger: Logger;
}

export interface Listener {
  protocol: 'mqtt' | 'mqtts' | 'ws';
  host: string;
  port: number;
  url: string;
}

export class EmbeddedBroker {
  readonly listeners: Listener[] = [];
  private readonly servers: (NetServer | TlsServer | HttpServer)[] = [];
  private readonly sockets = new Set<Socket | Duplex>();
  private wss: WebSocketServer | undefined;
  /** Successful scrypt checks by `vehicle\0password`: a reconnect storm must not cost 50 ms of CPU per login. */
  private readonly verified = new Map<string, true>();
  /**
   * One scrypt check at a time. scrypt runs on libuv's thread pool, which the edge log's writes
   * and fsyncs share: 200 vehicles logging in at once would otherwise hold every connected
   * vehicle's acknowledgments for a second (measured: p99 7.8 ms → 1,080 ms). Logins queue
   * instead; a queue of logins is slower to drain, the others stay fast.
   */
  private readonly logins = new Mutex();
  private readonly warned = new Map<string, number>();
  private inFlight = 0;
  /** Set by close(): publishes that arrive from then on are refused, so the drain can end. */
  private stopping = false;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly broker: Aedes,
    private readonly deps: EmbeddedBrokerDeps,
  ) {}

  static async start(deps: EmbeddedBrokerDeps): Promise<EmbeddedBroker> {
    const o = deps.options;
    let self: EmbeddedBroker | undefined;
    const broker = await Aedes.createBroker({
      connectTimeout: o.connectTimeoutMs,
      authenticate: (client, username, password, done) => void self!.authenticate(client as VehicleClient, username, password, done),
      authorizePublish: (client, packet, done) => self!.authorizePublish(client as VehicleClient | null, packet, done),
      authorizeSubscribe: (client, sub, done) => {
        const vehicle = (client as VehicleClient)[VEHICLE];
        const decision = vehicle === undefined ? { allowed: false as const, reason: 'acl_topic' as const } : maySubscribe(vehicle, sub.topic);
        if (decision.allowed || (o.allowAnonymous && !sub.topic.startsWith('$'))) return done(null, sub);
        deps.metrics.rejects.inc({ reason: decision.allowed ? 'acl_topic' : decision.reason });
        self!.warnOnce(client.id, { vehicle, topic: sub.topic }, 'subscription refused');
        done(null, null);
      },
      authorizeForward: (_client, packet) => ((packet as unknown as Record<symbol, unknown>)[DEAD] === true ? null : packet),
    });
    self = new EmbeddedBroker(broker, deps);
    broker.on('clientError', (client, err) => {
      if (!self!.stopping) self!.warnOnce(client.id, { err: err.message }, 'client error; connection closed');
    });
    broker.on('connectionError', (client, err) => {
      deps.metrics.rejects.inc({ reason: 'protocol_error' });
      self!.warnOnce(client.id ?? 'unknown', { err: err.message }, 'malformed MQTT; connection closed');
    });
    broker.on('client', () => deps.metrics.connections.inc());
    broker.on('clientDisconnect', () => deps.metrics.connections.dec());
    try {
      await self.listen();
    } catch (err) {
      await self.close(0); // the listeners already started (the TCP port when the TLS one fails)
      throw err;
    }
    return self;
  }

  private async listen(): Promise<void> {
    const o = this.deps.options;
    const tcp = createNetServer((socket) => this.accept(socket));
    await this.bind(tcp, 'mqtt', o.host, o.port, 'edge.mqtt.port');
    if (o.tls !== undefined) {
      const secure = {
        cert: readSettingFile('edge.mqtt.tls.certFile', o.tls.certFile),
        key: readSettingFile('edge.mqtt.tls.keyFile', o.tls.keyFile),
        ...(o.tls.caFile === undefined ? {} : { ca: readSettingFile('edge.mqtt.tls.caFile', o.tls.caFile), requestCert: true, rejectUnauthorized: true }),
        minVersion: 'TLSv1.2' as const,
      };
      let tls: TlsServer;
      try {
        tls = createTlsServer(secure, (socket) => this.accept(socket));
      } catch (err) {
        throw new RoadlogError('ROADLOG_ERR_CONFIG_INVALID', `edge.mqtt.tls: ${o.tls.certFile} and ${o.tls.keyFile}${o.tls.caFile === undefined ? '' : ` (CA ${o.tls.caFile})`} are not a usable PEM certificate and key: ${(err as Error).message}`, { cause: err });
      }
      tls.on('tlsClientError', () => this.deps.metrics.rejects.inc({ reason: 'tls_handshake' }));
      await this.bind(tls, 'mqtts', o.host, o.tls.port, 'edge.mqtt.tls.port');
    }
    if (o.websocket !== undefined) {
      const http = createHttpServer((_req, res) => {
        res.writeHead(426, { 'content-type': 'text/plain' });
        res.end('MQTT over WebSocket: connect with the mqtt subprotocol\n');
      });
      await this.bind(http, 'ws', o.host, o.websocket.port, 'edge.mqtt.websocket.port');
      // Attached once listening: ws re-emits the server's errors on itself, and a port in use would be unhandled there.
      this.wss = new WebSocketServer({ server: http, path: o.websocket.path, maxPayload: o.maxPacketBytes });
      this.wss.on('connection', (ws, req) => this.accept(createWebSocketStream(ws), req.socket.remoteAddress, req));
    }
  }

  private async bind(server: NetServer | TlsServer | HttpServer, protocol: Listener['protocol'], host: string, port: number, setting: string): Promise<void> {
    server.maxConnections = this.deps.options.maxConnections;
    server.on('drop', () => this.deps.metrics.rejects.inc({ reason: 'max_connections' }));
    const address = await listen(server, { host, port, setting });
    this.servers.push(server);
    const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    this.listeners.push({ protocol, host, port: address.port, url: `${protocol}://${shown}:${address.port}${protocol === 'ws' ? this.deps.options.websocket?.path ?? '' : ''}` });
  }

  /** Every connection, TCP, TLS or WebSocket, has the packet size guard in front of its MQTT parser. */
  private accept(socket: Socket | Duplex, remoteAddress = (socket as Socket).remoteAddress, req?: IncomingMessage): void {
    this.deps.metrics.connectionsTotal.inc();
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    (socket as Partial<Socket>).setNoDelay?.(true);
    const client = this.broker.handle(socket, req);
    guardClient(client, this.deps.options.maxPacketBytes, (violation, declared) => {
      this.deps.metrics.rejects.inc({ reason: violation === 'oversize' ? 'packet_too_large' : 'protocol_error' });
      this.warnOnce(remoteAddress ?? 'unknown', { violation, declared }, 'packet refused; connection closed');
    });
  }

  private async authenticate(client: VehicleClient, username: string | undefined, password: Buffer | undefined, done: (error: AuthenticateError | null, success: boolean | null) => void): Promise<void> {
    const refuse = (reason: string, returnCode: 4 | 5): void => {
      this.deps.metrics.rejects.inc({ reason });
      this.warnOnce(client.id, { username, reason }, 'login refused');
      done(Object.assign(new Error(reason), { returnCode }) as AuthenticateError, null);
    };
    const o = this.deps.options;
    const conn = client.conn as unknown as Partial<TLSSocket>;
    const cert = typeof conn.getPeerCertificate === 'function' ? conn.getPeerCertificate() : undefined;
    if (cert !== undefined && conn.authorized === true && typeof cert.subject?.CN === 'string') {
      const cn = cert.subject.CN;
      if (!isValidVehicleId(cn)) return refuse('bad_certificate', 5);
      if (username !== undefined && username !== cn) return refuse('certificate_mismatch', 5);
      client[VEHICLE] = cn;
      return done(null, true);
    }
    if (username !== undefined && this.deps.credentials.has(username)) {
      const secret = password ?? Buffer.alloc(0);
      const cacheKey = `${username}\u0000${secret.toString('base64')}`;
      if (this.verified.has(cacheKey) || (await this.logins.run(() => verifySecret(secret, this.deps.credentials.get(username)!)))) {
        if (this.verified.size > 100_000) this.verified.clear();
        this.verified.set(cacheKey, true);
        client[VEHICLE] = username;
        return done(null, true);
      }
      return refuse('bad_password', 4);
    }
    if (o.allowAnonymous) {
      if (username !== undefined && isValidVehicleId(username)) client[VEHICLE] = username;
      return done(null, true);
    }
    return refuse(username === undefined ? 'no_credentials' : 'unknown_vehicle', 4);
  }

  private authorizePublish(client: VehicleClient | null, packet: { topic: string; payload: Buffer | string; qos: 0 | 1 | 2; retain: boolean }, done: (error?: Error | null) => void): void {
    if (client === null) return done(null); // the broker's own $SYS messages
    // Stopping: not acknowledged, the connection closes, the device sends it again after the restart.
    if (this.stopping) return done(new Error('the edge agent is stopping'));
    // Anonymous development mode: the vehicle is the one named by the topic.
    const vehicleId = client[VEHICLE] ?? (this.deps.options.allowAnonymous ? vehicleOfTopic(packet.topic) : undefined) ?? client.id;
    packet.retain = false; // telemetry is a stream, not a last value: never store retained copies
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    this.inFlight += 1;
    this.deps.ingest.ingest({ vehicleId, clientId: client.id, topic: packet.topic, payload, qos: packet.qos }).then(
      (outcome) => {
        this.inFlight -= 1;
        if (outcome.kind === 'dead_letter') (packet as unknown as Record<symbol, unknown>)[DEAD] = true;
        done(null);
      },
      (err: unknown) => {
        this.inFlight -= 1;
        const reason = err instanceof IngestRejected ? err.reason : 'internal';
        if (!(err instanceof IngestRejected)) this.deps.logger.error({ err, client: client.id }, 'ingest failed');
        this.warnOnce(client.id, { vehicleId, topic: packet.topic, reason }, 'publish refused; connection closed');
        done(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  /** One log line per client and reason per minute: an abusive client cannot flood the log. */
  private warnOnce(clientId: string, fields: Record<string, unknown>, message: string): void {
    const key = `${clientId}\u0000${message}`;
    const now = Date.now();
    if ((this.warned.get(key) ?? 0) > now - 60_000) return;
    if (this.warned.size > 10_000) this.warned.clear();
    this.warned.set(key, now);
    this.deps.logger.warn({ client: clientId, ...fields }, message);
  }

  /**
   * Stop accepting connections and publishes, let publishes already being stored finish (so
   * their acknowledgments go out), then close every client and the broker. Idempotent.
   */
  async close(drainMs = 5_000): Promise<void> {
    this.stopping = true;
    this.closing ??= (async () => {
      const closed = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      const deadline = Date.now() + drainMs;
      while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      for (const ws of this.wss?.clients ?? []) ws.terminate();
      this.wss?.close();
      for (const socket of this.sockets) socket.destroy();
      await Promise.all(closed);
      await new Promise<void>((resolve) => this.broker.close(() => resolve()));
    })();
    return this.closing;
  }
}

/** A TLS file named by a setting; a missing or unreadable one is reported naming the setting. */
function readSettingFile(setting: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw asFileError(err, setting, path);
  }
}
