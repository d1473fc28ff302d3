import { z } from 'zod';
import { httpSchema, instanceIdSchema } from '../component.js';

/** The InfluxDB sink (`influx:` in the config file; `ROADLOG_INFLUX_*` in the environment). */
export const InfluxSinkOptionsSchema = z
  .object({
    /** InfluxDB's HTTP API (1.x; 2.x and 3.x serve the same v1 /write). */
    url: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8086'),
    database: z.string().min(1).max(200).default('roadlog'),
    retentionPolicy: z.string().min(1).optional(),
    username: z.string().min(1).optional(),
    /** A file holding the password (first line), never the password itself in the config. */
    passwordFile: z.string().min(1).optional(),
    /** Consumer group: its own, so a slow InfluxDB never holds back the archive or the alerts. */
    groupId: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/).default('influx'),
    instanceId: instanceIdSchema(),
    /** Points per /write request. */
    batchPoints: z.number().int().min(1).max(100_000).default(5_000),
    requestTimeoutMs: z.number().int().min(100).max(300_000).default(10_000),
    /** How often the vehicles table (the `class` tag) is read again, ms. */
    vehiclesRefreshMs: z.number().int().min(1_000).max(86_400_000).default(60_000),
    sessionTimeoutMs: z.number().int().min(6_000).max(300_000).default(30_000),
    http: httpSchema(9467),
  })
  .strict();

export type InfluxSinkOptions = z.output<typeof InfluxSinkOptionsSchema>;
