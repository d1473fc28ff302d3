import { join } from 'node:path';
import { z } from 'zod';
import { RoadlogConfigSchema } from '../../shared/config/roadlog.js';
import { roadlogHome } from '../../shared/home/index.js';
import { ColdOptionsSchema } from '../cold/options.js';
import { InfluxSinkOptionsSchema } from '../influx/options.js';

/** The console (`console:` in the config file; `ROADLOG_CONSOLE_*` in the environment). */
export const ConsoleOptionsSchema = z
  .object({
    /** Listens here: this machine only unless told otherwise. */
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65_535).default(8080),
    /** Users and their scrypt hashes (`roadlog console passwd`). Default: $ROADLOG_HOME/console-users. */
    usersFile: z.string().min(1).default(() => join(roadlogHome(), 'console-users')),
    /** HTTPS with this certificate and key (PEM files); the session cookie is then Secure. */
    tls: z.object({ cert: z.string().min(1), key: z.string().min(1) }).strict().optional(),
    /** A session idle this long ends. */
    sessionIdleMinutes: z.number().int().min(1).max(7 * 24 * 60).default(480),
    /** The components' /metrics URLs the health page reads (edge agents, hot path, archiver, sink). */
    metrics: z.array(z.url({ protocol: /^https?$/ })).max(200).default([]),
    /** Cleared alerts stay on the alerts page this long. */
    recentClearedHours: z.number().min(0).max(24 * 30).default(24),
    /** A gateway without a heartbeat this long is shown offline (the hot path's gateway_offline default is 60 s). */
    gatewayOfflineSeconds: z.number().int().min(5).max(86_400).default(60),
  })
  .strict();

export type ConsoleOptions = z.output<typeof ConsoleOptionsSchema>;

/** The console's config: its section, cold: (where the archive is, for the reports) and influx: (where the vehicle page's telemetry is). */
export const ConsoleConfigSchema = RoadlogConfigSchema.extend({ console: ConsoleOptionsSchema.prefault({}), cold: ColdOptionsSchema.prefault({}), influx: InfluxSinkOptionsSchema.prefault({}) });
