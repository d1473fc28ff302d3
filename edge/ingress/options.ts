import { z } from 'zod';

const KiB = 1024;

const PortSchema = z.number().int().min(0).max(65_535);

/** MQTT ingress (`edge.mqtt` in the config file). Safe defaults: anonymous off, TLS ≥ 1.2. */
export const IngressOptionsSchema = z
  .object({
    /** `embedded`: run the aedes broker here. `client`: subscribe to an existing broker (e.g. Mosquitto). */
    mode: z.enum(['embedded', 'client']).default('embedded'),
    host: z.string().min(1).default('0.0.0.0'),
    /** Plain MQTT over TCP; 0 picks a free port. */
    port: PortSchema.default(1883),
    tls: z
      .object({
        port: PortSchema.default(8883),
        certFile: z.string().min(1),
        keyFile: z.string().min(1),
        /** CA that signs vehicle certificates; with it, a client certificate is required and its CN is the vehicle id. */
        caFile: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    websocket: z
      .object({
        port: PortSchema.default(8080),
        path: z.string().startsWith('/').default('/mqtt'),
      })
      .strict()
      .optional(),
    /** For local development only: any client id is accepted as the vehicle id, no password. */
    allowAnonymous: z.boolean().default(false),
    /** Vehicle credentials: one `vehicleId: scrypt$...` per line (`roadlog edge passwd`). */
    credentialsFile: z.string().min(1).optional(),
    /** A packet whose declared length is larger closes the connection. */
    maxPacketBytes: z.number().int().min(256).max(256 * 1024 * KiB).default(64 * KiB),
    /** A connection that has not sent CONNECT by then is closed (slowloris). */
    connectTimeoutMs: z.number().int().min(100).max(300_000).default(10_000),
    maxConnections: z.number().int().min(1).max(1_000_000).default(10_000),
    /**
     * Per-vehicle quota: a token bucket refilled at `messagesPerSecond`, holding up to `burst`.
     * Embedded mode only: in client mode messages come as one ordered stream from the upstream
     * broker, where quotas belong; delaying one vehicle there would hold up every vehicle.
     */
    rateLimit: z
      .object({
        messagesPerSecond: z.number().positive().max(1_000_000).default(50),
        burst: z.number().int().min(1).max(1_000_000).default(200),
      })
      .strict()
      .prefault({}),
    /** Device retries (same vehicleId and seq) inside this many recent seqs per vehicle are appended once. */
    dedupWindow: z.number().int().min(0).max(1_000_000).default(1024),
    /** Client mode: the broker to read from. */
    upstream: z
      .object({
        url: z.string().regex(/^(mqtt|mqtts|ws|wss):\/\/.+/, 'expected mqtt://host:port (or mqtts, ws, wss)'),
        clientId: z.string().min(1).max(128).default('roadlog-edge'),
        topic: z.string().min(1).default('fleet/+/telemetry'),
        username: z.string().optional(),
        password: z.string().optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.mode === 'client' && o.upstream === undefined) ctx.addIssue({ code: 'custom', path: ['upstream'], message: 'expected { url: mqtt://host:port } when mode is client' });
    if (o.mode === 'embedded' && !o.allowAnonymous && o.credentialsFile === undefined && o.tls?.caFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['credentialsFile'], message: 'expected a credentials file (or tls.caFile for client certificates, or allowAnonymous: true for development): vehicles could not log in' });
    }
  });

export type IngressOptions = z.output<typeof IngressOptionsSchema>;
