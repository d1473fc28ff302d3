import type { Command } from 'commander';
import type { z } from 'zod';
import { loadConfig, deepMerge, type DeepReadonly } from '../config/index.js';
import { RoadlogConfigSchema, type RoadlogConfig } from '../config/roadlog.js';
import { createLogger, type Logger } from '../logging/index.js';
import { RoadlogError } from '../errors/index.js';

/** Options every command accepts (declared on the root program). */
export interface GlobalOptions {
  config?: string;
  verbose?: boolean;
  logLevel?: string;
}

export function globalOptions(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

/**
 * The effective config for a command: defaults ← --config file ← ROADLOG_* env ← flags.
 * `overrides` are the command's own flags, shaped like the config file.
 */
export function commandConfig(cmd: Command, overrides: Record<string, unknown> = {}): DeepReadonly<RoadlogConfig> {
  return commandConfigWith(cmd, RoadlogConfigSchema, overrides);
}

/** The same over another schema (one with more sections, such as `roadlog config check`'s). */
export function commandConfigWith<S extends z.ZodType>(cmd: Command, schema: S, overrides: Record<string, unknown> = {}): DeepReadonly<z.output<S>> {
  const g = globalOptions(cmd);
  const logOverride = g.logLevel !== undefined ? { log: { level: g.logLevel } } : g.verbose === true ? { log: { level: 'debug' } } : {};
  return loadConfig(schema, { ...(g.config === undefined ? {} : { file: g.config }), overrides: deepMerge(logOverride, overrides) });
}

export function commandLogger(config: DeepReadonly<RoadlogConfig>, name = 'roadlog'): Logger {
  return createLogger({ level: config.log.level, format: config.log.format, name });
}

/** Parse an integer option with a range, for commander's argParser. The message names the flag (ROADLOG_ERR_USAGE, exit 2). */
export function intOption(flag: string, min: number, max: number): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new RoadlogError('ROADLOG_ERR_USAGE', `${flag}: expected an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
    }
    return n;
  };
}

/** `90s`, `15m`, `2h`, `1h30m`, or plain seconds, in ms; `flag` names the option in the error. */
export function parseDuration(text: string, flag = '--duration'): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(t);
  if (m === null || t === '' || (m[1] === undefined && m[2] === undefined && m[3] === undefined)) throw new RoadlogError('ROADLOG_ERR_USAGE', `${flag}: expected e.g. 90s, 15m, 2h or 1h30m, got ${JSON.stringify(text)}`);
  return ((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 1000;
}
