import type { Server } from 'node:http';
import type { Command } from 'commander';
import { hostname } from 'node:os';
import { z } from 'zod';
import { globalOptions } from '../shared/cli/context.js';
import { loadConfig, type DeepReadonly } from '../shared/config/index.js';
import { HEAP_TRIM_DEFAULTS, HeapTrimmer, type HeapTrimOptions } from '../shared/heap/trim.js';
import type { Logger } from '../shared/logging/index.js';

/**
 * What the cloud components' commands (`hot`, `cold`, `influx-sink`) share: their config loaded
 * from defaults ← --config file ← ROADLOG_* ← flags, with the component's own section, and a
 * long-running process's life until SIGTERM/SIGINT.
 */
export function loadComponentConfig<S extends z.ZodType>(cmd: Command, schema: S, section: string, sectionFlags: Record<string, unknown>, flags: { config?: string; brokers?: string }, otherSections: Record<string, unknown> = {}): DeepReadonly<z.output<S>> {
  const g = globalOptions(cmd);
  const overrides: Record<string, unknown> = { ...otherSections, [section]: sectionFlags };
  if (flags.brokers !== undefined) overrides.kafka = { brokers: flags.brokers.split(',').map((b) => b.trim()).filter((b) => b !== '') };
  if (g.logLevel !== undefined) overrides.log = { level: g.logLevel };
  else if (g.verbose === true) overrides.log = { level: 'debug' };
  const file = flags.config ?? g.config;
  return loadConfig(schema, { ...(file === undefined ? {} : { file }), overrides });
}

/**
 * Resolves once SIGTERM or SIGINT has stopped the component (`stop`, then the HTTP server
 * closed); a second signal meanwhile exits at once (130), a failed stop exits 1. Meanwhile a
 * HeapTrimmer gives back what bursts leave in the JS heap (shared/heap/trim.ts).
 */
export function runUntilSignal(logger: Logger, server: Server, stop: () => Promise<void>, stopping: string, heapTrim: HeapTrimOptions = HEAP_TRIM_DEFAULTS): Promise<void> {
  const mib = (bytes: number) => Math.round(bytes / 1_048_576);
  const trimmer = new HeapTrimmer(heapTrim, ({ beforeBytes, afterBytes, ms }) =>
    logger.info({ ms: Math.round(ms), heapMiB: { before: mib(beforeBytes), after: mib(afterBytes) } }, 'heap: unused JS heap given back (one memory-reducing GC)'),
  );
  trimmer.start();
  return new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      trimmer.stop();
      logger.info({ signal }, stopping);
      process.once(signal, () => process.exit(130));
      void stop().then(() => server.close(() => resolve()), (err: unknown) => {
        logger.error({ err }, 'clean stop failed');
        process.exit(1);
      });
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
  });
}

/** A component's `instanceId`: names it in logs and its client ids; default host name and process id. */
export const instanceIdSchema = () =>
  z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,100}$/)
    .default(() => `${hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 60) || 'host'}-${process.pid}`);

/** A component's `http:` section: /healthz, /metrics (and /status) on 127.0.0.1 unless told otherwise. */
export const httpSchema = (port: number) =>
  z
    .object({
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65_535).default(port),
    })
    .strict()
    .prefault({});
