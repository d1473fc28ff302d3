import { CommanderError } from 'commander';
import { RoadlogError, ERROR_CODES } from '../errors/index.js';

/**
 * Turns any failure into one line on stderr and an exit code:
 *   roadlog: ROADLOG_ERR_KAFKA_TOPIC_NOT_FOUND tail: topic "nope" does not exist
 * RoadlogError → its own exit code (config and usage errors exit 2); anything else is a bug
 * (ROADLOG_ERR_INTERNAL, exit 70). The stack trace is printed only with --verbose.
 */
export function reportFailure(err: unknown, verbose: boolean, stderr: NodeJS.WritableStream = process.stderr): number {
  if (err instanceof CommanderError) {
    // commander has already printed its message (unknown option, missing argument, --help).
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
    if (err.exitCode === 0) return 0;
    return 2;
  }
  if (err instanceof RoadlogError) {
    stderr.write(`roadlog: ${err.code} ${err.message}\n`);
    if (verbose) stderr.write(`${stackOf(err)}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  stderr.write(`roadlog: ROADLOG_ERR_INTERNAL ${verbose ? message : message.split('\n')[0]}\n`);
  if (verbose) stderr.write(`${stackOf(err)}\n`);
  else stderr.write('roadlog: this is a bug; run again with --verbose for the stack trace\n');
  return ERROR_CODES.ROADLOG_ERR_INTERNAL.exitCode;
}

function stackOf(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  while (cur instanceof Error && parts.length < 5) {
    parts.push(cur.stack ?? cur.message);
    cur = (cur as { originalError?: unknown }).originalError ?? cur.cause;
  }
  return parts.join('\nCaused by: ');
}
