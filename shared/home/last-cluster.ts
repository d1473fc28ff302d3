import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-file/index.js';
import { roadlogHome } from './home.js';

/**
 * The Kafka cluster `roadlog kafka start` (infra/) last started, which the commands that need
 * brokers (cloud/) default to: `$ROADLOG_HOME/kafka-last.json`, the cluster's description as
 * infra/kafka/cluster.ts gives it; readers rely only on these fields.
 */
export interface LastCluster {
  /** The cluster's directory. */
  dir: string;
  /** `host:port,...` of the PLAINTEXT listeners. */
  bootstrapServers: string;
  /** A `--secure` cluster's SASL_SSL listeners and how to log in (the password stays in its file). */
  secure?: LastClusterSecure;
}

export interface LastClusterSecure {
  bootstrapServers: string;
  caFile: string;
  username: string;
  passwordFile: string;
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
    if (typeof info?.dir !== 'string' || typeof info.bootstrapServers !== 'string') return undefined;
    const s = info.secure as Partial<LastClusterSecure> | undefined;
    const secure = s !== undefined && [s.bootstrapServers, s.caFile, s.username, s.passwordFile].every((v) => typeof v === 'string') ? (s as LastClusterSecure) : undefined;
    return { dir: info.dir, bootstrapServers: info.bootstrapServers, ...(secure === undefined ? {} : { secure: { bootstrapServers: secure.bootstrapServers, caFile: secure.caFile, username: secure.username, passwordFile: secure.passwordFile } }) };
  } catch {
    return undefined;
  }
}
