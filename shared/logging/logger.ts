import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { LogOptions } from './options.js';

export type { Logger } from 'pino';

/**
 * A password never reaches a log line, whichever object carries it (a config section, kafkajs
 * options, an error's details): `password` at the top and up to three levels down.
 */
export const REDACTED_PATHS = ['password', '*.password', '*.*.password', '*.*.*.password'];

/**
 * Logs go to stderr (stdout belongs to command output such as `roadlog tail --format json`).
 * JSON lines by default; pretty only when asked for, or with `auto` when stderr is a TTY.
 */
export function createLogger(options: Partial<LogOptions> & { name?: string } = {}, destination: NodeJS.WritableStream = process.stderr): Logger {
  const format = options.format ?? 'auto';
  const usePretty = format === 'pretty' || (format === 'auto' && (destination as NodeJS.WriteStream).isTTY === true);
  const base = { level: options.level ?? 'info', name: options.name ?? 'roadlog', base: { pid: process.pid }, redact: { paths: REDACTED_PATHS, censor: '***' } };
  if (usePretty) {
    return pino(base, pretty({ destination, colorize: (destination as NodeJS.WriteStream).isTTY === true, sync: true, ignore: 'pid,hostname' }));
  }
  return pino(base, destination);
}
