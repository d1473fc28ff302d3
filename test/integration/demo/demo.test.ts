import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startCli } from '../../support/cli.js';
import { waitFor } from '../../support/kafka.js';

/**
 * `roadlog demo` as `npm start` runs it (the built CLI, a small fleet): every part starts as its
 * own process with a log in the run folder, the status block names the console and its login,
 * the console answers with the demo's user and shows the fleet's data (records through both
 * gateways into Kafka and the hot path, alerts raised by the simulator's faults), a taken port
 * is skipped and said so, and Ctrl-C stops everything in reverse order and says what it stopped.
 */
let dir: string;
let blocker: Server | undefined;
let demo: ReturnType<typeof startCli> | undefined;

afterAll(async () => {
  if (demo !== undefined && demo.child.exitCode === null) {
    demo.child.kill('SIGINT');
    await demo.exited;
  }
  blocker?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('roadlog demo (npm start)', () => {
  it('starts the whole pipeline, the console shows the fleet, Ctrl-C stops it all', async () => {
    dir = await mkdtemp(join(tmpdir(), 'roadlog-demo-'));
    // The console's port is taken: the demo takes the next free one and says so.
    blocker = createServer();
    const taken = await new Promise<number>((resolve) => blocker!.listen(0, '127.0.0.1', () => resolve((blocker!.address() as { port: number }).port)));
    demo = startCli(['demo', '--dir', join(dir, 'run'), '--vehicles', '20', '--speedup', '40', '--duration', '1h', '--port', String(taken), '--no-live', '--outage', 'gw-1', '10s', '--outage-after', '2s'], { env: { ROADLOG_LOG_LEVEL: 'warn' } });
    const block = await waitFor(() => /^console\s+(\S+)\s+user (\S+)\s+password (\S+)$/m.exec(demo!.output.stdout) ?? (demo!.child.exitCode !== null ? Promise.reject(new Error(demo!.output.stdout + demo!.output.stderr)) : undefined), 240_000, 'the status block');
    const [, url, user, password] = block;
    expect(demo.output.stdout).toContain(`console   port ${taken} is in use: using `);
    expect(url).not.toContain(`:${taken}`);
    expect(demo.output.stdout).toMatch(/^logs\s+\S+logs$/m);
    const logs = await readdir(join(dir, 'run', 'logs'));
    for (const part of ['kafka', 'topics', 'influx', 'gw-1', 'gw-2', 'hot', 'cold', 'influx-sink', 'console', 'sim-gw-1', 'sim-gw-2']) expect(logs).toContain(`${part}.log`);

    const login = await fetch(`${url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, password }) });
    expect(login.status).toBe(200);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const get = async <T>(path: string): Promise<T> => (await (await fetch(`${url}${path}`, { headers: { cookie } })).json()) as T;
    // Both gateways beat and forward; the hot path reads the fleet's records; the faults raise alerts.
    await waitFor(async () => {
      const { gateways } = await get<{ gateways: { gatewayId: string; offline: boolean }[] }>('/api/gateways');
      return gateways.filter((g) => !g.offline).length === 2 ? true : undefined;
    }, 60_000, 'both gateways online in the console');
    const hot = await waitFor(async () => {
      const { groups } = await get<{ groups: { groupId: string; topics: { topic: string; partitions: { committed: string | null }[] }[] }[] }>('/api/groups');
      const committed = groups.find((g) => g.groupId === 'hot')?.topics.find((t) => t.topic.endsWith('.telemetry.v1'))?.partitions.reduce((n, p) => n + Number(p.committed ?? 0), 0) ?? 0;
      return committed >= 2_000 ? committed : undefined;
    }, 120_000, 'the hot path to have read the fleet');
    const alerts = await waitFor(async () => {
      const { alerts: list } = await get<{ alerts: { vehicleId: string; gatewayId: string }[] }>('/api/alerts');
      return list.length > 0 ? list : undefined;
    }, 180_000, 'an alert in the console');
    expect(new Set(alerts.map((a) => a.gatewayId)).size).toBeGreaterThan(0);
    // --outage gw-1 10s: its uplink went down 2 s after the fleet started; once back, its heartbeats tell of the outage and the backlog drains.
    expect(demo.output.stdout).toMatch(/^outage\s+gw-1's uplink goes down in 2 s, for 10 s$/m);
    await waitFor(() => (/^outage\s+gw-1's uplink is down for 10 s/m.test(demo!.output.stdout) ? true : undefined), 30_000, 'the outage to begin');
    const cutAt = Date.now();
    const back = await waitFor(async () => {
      const { gateways } = await get<{ gateways: { gatewayId: string; heartbeatAt: number; connected: boolean; lastError: { message: string; at: number } | null; backlogRecords: number }[] }>('/api/gateways');
      const g = gateways.find((x) => x.gatewayId === 'gw-1');
      return g !== undefined && g.connected && g.lastError !== null && g.lastError.at >= cutAt - 5_000 && g.backlogRecords < 200 ? g : undefined;
    }, 90_000, "gw-1 back, its backlog drained, the outage in its last error");
    expect(back.lastError!.message).toMatch(/drill|uplink|ENETUNREACH|ECONNRESET/i);
    console.log(`demo: the hot path had read ${hot} records; ${alerts.length} alerts in the console`);

    demo.child.kill('SIGINT');
    const { code } = await demo.exited;
    expect(code, demo.output.stdout).toBe(0);
    const stopped = /^stopped: (.*)$/m.exec(demo.output.stdout)?.[1]?.split(', ');
    expect(stopped).toEqual(['sim-gw-2', 'sim-gw-1', 'console', 'influx-sink', 'cold', 'hot', 'gw-2', 'gw-1', 'InfluxDB', 'Kafka (1 node)']);
    // Nothing of it listens any more.
    expect(await fetch(`${url}/healthz`).then(() => 'up', () => 'down')).toBe('down');
  });
});
