import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoadlogError } from '../../../shared/errors/index.js';
import { startInflux, stopInflux, influxStatus } from '../../../infra/influx/server.js';
import { startMosquitto, stopMosquitto, mosquittoStatus } from '../../../infra/mosquitto/server.js';
import { isAlive } from '../../../infra/service/index.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'roadlog-infra-'));
});
afterAll(async () => {
  // Whatever a failed test left running (stop acts only on this run's pid files).
  await stopMosquitto(join(root, 'mosquitto')).catch(() => undefined);
  for (const d of ['influx', 'influx-a', 'influx-b', 'influx-bad']) await stopInflux(join(root, d)).catch(() => undefined);
  await rm(root, { recursive: true, force: true });
});

/** One MQTT CONNECT (protocol 3.1.1, clean session, client id "t"); resolves the CONNACK return code. */
function mqttConnack(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const connectPacket = Buffer.from([0x10, 13, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 30, 0, 1, 0x74]);
    socket.once('connect', () => socket.write(connectPacket));
    socket.once('data', (data) => {
      socket.destroy();
      if (data[0] !== 0x20) reject(new Error(`expected CONNACK, got ${data.toString('hex')}`));
      else resolve(data[3] as number);
    });
    socket.once('error', reject);
  });
}

describe('Mosquitto', () => {
  it('starts on a free port, accepts an MQTT connection, refuses a second start, and stops its process', async () => {
    const dir = join(root, 'mosquitto');
    const info = await startMosquitto({ dir });
    expect(info.url).toBe(`mqtt://127.0.0.1:${info.port}`);
    expect(isAlive(info.pid)).toBe(true);
    expect(await mqttConnack(info.port)).toBe(0);
    expect((await mosquittoStatus(dir)).running).toBe(true);

    const again = await startMosquitto({ dir }).catch((err: unknown) => err);
    expect(isRoadlogError(again, 'ROADLOG_ERR_SERVICE_ALREADY_RUNNING')).toBe(true);

    await stopMosquitto(dir);
    expect(isAlive(info.pid)).toBe(false);
    expect((await mosquittoStatus(dir)).running).toBe(false);
    await stopMosquitto(dir); // idempotent
  });
});

describe('InfluxDB', () => {
  it('starts on a free port, answers /ping and a write/query, and stops its process', async () => {
    const dir = join(root, 'influx');
    const info = await startInflux({ dir });
    expect(info.url).toBe(`http://127.0.0.1:${info.port}`);
    expect((await fetch(`${info.url}/ping`)).status).toBe(204);

    const q = async (query: string): Promise<unknown> => (await fetch(`${info.url}/query?q=${encodeURIComponent(query)}`, { method: 'POST' })).json();
    await q('CREATE DATABASE infra_test');
    const write = await fetch(`${info.url}/write?db=infra_test&precision=ms`, { method: 'POST', body: 'speed,vehicle=v1 kmh=42 1700000000000' });
    expect(write.status).toBe(204);
    const res = (await q('SELECT kmh FROM infra_test..speed')) as { results: { series?: { values: unknown[][] }[] }[] };
    expect(res.results[0]?.series?.[0]?.values).toEqual([['2023-11-14T22:13:20Z', 42]]);

    const again = await startInflux({ dir }).catch((err: unknown) => err);
    expect(isRoadlogError(again, 'ROADLOG_ERR_SERVICE_ALREADY_RUNNING')).toBe(true);

    await stopInflux(dir);
    expect(isAlive(info.pid)).toBe(false);
    expect((await influxStatus(dir)).running).toBe(false);
  });

  it('refuses a port another server already listens on (its /ping must not count as ready)', async () => {
    const first = await startInflux({ dir: join(root, 'influx-a') });
    try {
      const err = await startInflux({ dir: join(root, 'influx-b'), port: first.port }).catch((e: unknown) => e);
      expect(isRoadlogError(err, 'ROADLOG_ERR_SERVICE_START_FAILED')).toBe(true);
      expect((err as Error).message).toContain(`port 127.0.0.1:${first.port} is already in use`);
      expect((await influxStatus(join(root, 'influx-b'))).running).toBe(false);
    } finally {
      await stopInflux(first.dir);
    }
  });

  it('fails with ROADLOG_ERR_SERVICE_START_FAILED naming the log file when influxd exits during start', async () => {
    const dir = join(root, 'influx-bad');
    // /bin/false stands in for an influxd that exits at once (bad config, missing library...).
    const err = await startInflux({ dir, bin: '/bin/false' }).catch((e: unknown) => e);
    expect(isRoadlogError(err, 'ROADLOG_ERR_SERVICE_START_FAILED')).toBe(true);
    expect((err as Error).message).toContain(join(dir, 'influxd.log'));
    expect((await influxStatus(dir)).running).toBe(false);
  });
});
