import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startKafkaCluster, stopKafkaCluster } from '../../infra/kafka/cluster.js';
import { startMosquitto, stopMosquitto } from '../../infra/mosquitto/server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Bootstrap servers of the 1-node Kafka cluster shared by the integration tests. */
    kafkaBrokers: string;
    kafkaDir: string;
    mosquittoUrl: string;
    /** A private ROADLOG_HOME, so tests never read the developer's last started cluster. */
    roadlogHome: string;
  }
}

/**
 * Starts the services the integration tests share, once per run, on free loopback ports in a
 * temp dir, and stops them afterwards (also when tests fail): a 1-node Kafka (most tests) and
 * Mosquitto (edge/upstream.test.ts). Failover tests start their own 3-node cluster. InfluxDB is
 * not started: no test shares one; a test that needs one starts its own in beforeAll with
 * infra/influx/server.ts and stops it in afterAll, as test/integration/infra/services.test.ts does.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const root = mkdtempSync(join(tmpdir(), 'roadlog-it-'));
  const home = join(root, 'home');
  process.env.ROADLOG_HOME = home;
  const started: (() => Promise<void>)[] = [];
  const teardown = async (): Promise<void> => {
    for (const stop of started.reverse()) await stop().catch((err: unknown) => console.error('teardown:', err));
    if (process.env.ROADLOG_KEEP_TEST_DIRS !== '1') rmSync(root, { recursive: true, force: true });
  };
  try {
    const [kafka, mosquitto] = await Promise.all([
      startKafkaCluster({ nodes: 1, dir: join(root, 'kafka') }).then((info) => {
        started.push(() => stopKafkaCluster(info.dir));
        return info;
      }),
      startMosquitto({ dir: join(root, 'mosquitto') }).then((info) => {
        started.push(() => stopMosquitto(info.dir));
        return info;
      }),
    ]);
    project.provide('kafkaBrokers', kafka.bootstrapServers);
    project.provide('kafkaDir', kafka.dir);
    project.provide('mosquittoUrl', mosquitto.url);
    project.provide('roadlogHome', home);
  } catch (err) {
    await teardown();
    throw err;
  }
  return teardown;
}
