import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where roadlog keeps local state: `$ROADLOG_HOME`, else `~/.roadlog`. */
export function roadlogHome(): string {
  const env = process.env['ROADLOG_HOME'];
  return env !== undefined && env !== '' ? env : join(homedir(), '.roadlog');
}
