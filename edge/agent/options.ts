import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { EdgeLogOptionsSchema } from '../log/options.js';
import { IngressOptionsSchema } from '../ingress/options.js';
import { ForwarderOptionsSchema } from '../forwarder/options.js';
import { roadlogHome } from '../../shared/home/index.js';

/** The edge agent (`edge:` in the config file; `ROADLOG_EDGE_*` in the environment). */
export const EdgeAgentOptionsSchema = z
  .object({
    /** Names this gateway in record headers and heartbeats. Default: the host name. */
    gatewayId: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'expected 1-64 characters of A-Z a-z 0-9 _ . -')
      .default(() => hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 64) || 'gateway'),
    /** The edge log lives in `{dataDir}/log`. */
    dataDir: z.string().min(1).default(() => join(roadlogHome(), 'edge')),
    log: EdgeLogOptionsSchema.prefault({}),
    mqtt: IngressOptionsSchema.prefault({}),
    /** To Kafka (`kafka:` section for the brokers); runs when kafka.brokers is set. */
    forwarder: ForwarderOptionsSchema.prefault({}),
    /**
     * The JavaScript heap's young generation (edge/agent/young-generation.ts): kept small while
     * fewer than `burstMessagesPerSecond` messages (ingested + forwarded) a second pass through
     * the agent, allowed to grow above; 0 lets it grow always (V8's default).
     */
    memory: z
      .object({
        burstMessagesPerSecond: z.number().int().min(0).default(10_000),
        quietSeconds: z.number().min(1).max(3_600).default(60),
      })
      .strict()
      .prefault({}),
    /** /healthz, /metrics and /status. Loopback by default: metrics are not for the fleet. */
    http: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65_535).default(9464),
        /**
         * Drills for demos and game days: `POST /drill/uplink?down=60s` cuts every Kafka
         * connection of the agent for that long (`?down=0` ends a cut). Off by default.
         */
        drills: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type EdgeAgentOptions = z.output<typeof EdgeAgentOptionsSchema>;
export type EdgeAgentOptionsInput = z.input<typeof EdgeAgentOptionsSchema>;
