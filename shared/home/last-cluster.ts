import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-file/index.js';
import { roadlogHome } from './home.js';

/**
 * The Kafka cluster `roadlog kafka start` (infra/) last started, which the commands that need
 * brokers (cloud/) default to: `$ROADLOG_HOME/kafka-last.json`, the cluster's description as
 * infra/kafka/cluster.ts gives it; readers rely only on these two fields.
 */
export interface LastCluster {
  /** The cluster's directory. */
  dir: string;
  /** `host:port,...` */
  bootstrapServers: string;
}

function lastClusterFile(): string {
  return join(roadlogHome(), 'kafka-last.json');
}

export async function recordLastCluster(info: LastCluster): Promise<void> {
  await mkdir(roadlogHome(), { recursive: true });
  await writeFileAtomic(lastClusterFile(), `${JSON.stringify(info, null, 2)}\n`, { tmp: `${lastClusterFile()}.${process.pid}.tmp` });
}

/** The last cluster recorded, or undefined when there is none (or the file is not one). */
export async function readLastCluster(): Promise<LastCluster | undefined> {
  try {
    const info = JSON.parse(await readFile(lastClusterFile(), 'utf8')) as Partial<LastCluster> | null;
    return typeof info?.dir === 'string' && typeof info.bootstrapServers === 'string' ? { dir: info.dir, bootstrapServers: info.bootstrapServers } : undefined;
  } catch {
    return undefined;
  }
}
