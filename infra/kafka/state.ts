/**
 * Where the CLI remembers the last Kafka cluster it started (its default brokers come from
 * it): `${ROADLOG_HOME ?? ~/.roadlog}/kafka-last.json`.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { roadlogHome } from '../service/index.js';
import type { KafkaClusterInfo } from './cluster.js';

export function defaultKafkaDir(): string {
  return join(roadlogHome(), 'kafka');
}

function lastClusterFile(): string {
  return join(roadlogHome(), 'kafka-last.json');
}

export async function recordLastCluster(info: KafkaClusterInfo): Promise<void> {
  const file = lastClusterFile();
  await mkdir(roadlogHome(), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(info, null, 2)}\n`);
  await rename(tmp, file);
}

export async function readLastCluster(): Promise<KafkaClusterInfo | undefined> {
  try {
    return JSON.parse(await readFile(lastClusterFile(), 'utf8')) as KafkaClusterInfo;
  } catch {
    return undefined;
  }
}
