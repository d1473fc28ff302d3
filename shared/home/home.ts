import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Where roadlog keeps local state: `$ROADLOG_HOME`, else `~/.roadlog`. The edge agent's data
 * (`edge/`, unless `edge.dataDir` says otherwise), the services `roadlog kafka|influx|mosquitto
 * start` run (`kafka/`, `influx/`, `mosquitto/`) and the last-cluster file live there.
 */
export function roadlogHome(): string {
  const env = process.env['ROADLOG_HOME'];
  return env !== undefined && env !== '' ? env : join(homedir(), '.roadlog');
}
