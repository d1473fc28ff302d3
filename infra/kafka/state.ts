import { join } from 'node:path';
import { roadlogHome } from '../../shared/home/index.js';

/** Where `roadlog kafka start` runs a cluster without `--dir`: `$ROADLOG_HOME/kafka`. */
export function defaultKafkaDir(): string {
  return join(roadlogHome(), 'kafka');
}
