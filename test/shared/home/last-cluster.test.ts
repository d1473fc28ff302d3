import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLastCluster, recordLastCluster, roadlogHome } from '../../../shared/home/index.js';

let home: string;
const saved = process.env['ROADLOG_HOME'];
beforeAll(async () => {
  home = join(await mkdtemp(join(tmpdir(), 'roadlog-home-')), 'not-yet');
  process.env['ROADLOG_HOME'] = home;
});
afterAll(async () => {
  if (saved === undefined) delete process.env['ROADLOG_HOME'];
  else process.env['ROADLOG_HOME'] = saved;
  await rm(join(home, '..'), { recursive: true, force: true });
});

describe('the last-cluster file', () => {
  it('is under $ROADLOG_HOME, created with it; reads back what infra recorded, nothing when missing or not a cluster', async () => {
    expect(roadlogHome()).toBe(home);
    expect(await readLastCluster()).toBeUndefined();
    const started = { dir: '/k', nodes: 1, clusterId: 'c', bootstrapServers: '127.0.0.1:9092' }; // infra's KafkaClusterInfo, shortened
    await recordLastCluster(started);
    expect(await readLastCluster()).toEqual({ dir: '/k', bootstrapServers: '127.0.0.1:9092' });
    expect(await readdir(home)).toEqual(['kafka-last.json']);
    const secure = { bootstrapServers: '127.0.0.1:9094', caFile: '/k/secure/ca.pem', username: 'roadlog', passwordFile: '/k/secure/client.password', mechanisms: ['SCRAM-SHA-512'] };
    await recordLastCluster({ ...started, secure } as Parameters<typeof recordLastCluster>[0]);
    const { mechanisms: _m, ...needed } = secure;
    expect(await readLastCluster()).toEqual({ dir: '/k', bootstrapServers: '127.0.0.1:9092', secure: needed });
    await writeFile(join(home, 'kafka-last.json'), JSON.stringify({ ...started, secure: { caFile: 1 } }));
    expect(await readLastCluster()).toEqual({ dir: '/k', bootstrapServers: '127.0.0.1:9092' }); // a malformed secure part: as if plain
    for (const bad of ['{', 'null', '{"dir":"/k"}']) {
      await writeFile(join(home, 'kafka-last.json'), bad);
      expect(await readLastCluster(), bad).toBeUndefined();
    }
  });
});
