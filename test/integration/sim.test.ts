import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runFleet } from '../../simulators/fleet.js';
import { freePort } from '../../infra/service/index.js';
import { runCli } from '../support/cli.js';
import { readLog, removeTempDirs, startAgent, startAgentProcess, tempDir, TEST_LOG } from '../edge/ingress/support/agent.js';

/** The simulator against the real edge agent: what it reports acknowledged is exactly what the log holds. */
afterAll(() => removeTempDirs());

describe('roadlog sim against the edge agent', () => {
  it('100 vehicles, 60 s of device time at 10×: the edge log holds exactly the acknowledged messages, each once', async () => {
    const { agent, url, dataDir, close } = await startAgent({ mqtt: { allowAnonymous: true } });
    let result: Awaited<ReturnType<typeof runFleet>>;
    try {
      result = await runFleet({ vehicles: 100, seed: 9, speedup: 10, durationMs: 60_000, rateHz: 1, startTs: Date.parse('2026-01-05T06:00:00Z'), idPrefix: 'SIM', broker: url });
    } finally {
      await close();
    }
    void agent;
    const records = await readLog(dataDir, TEST_LOG);
    expect(records.filter((r) => r.lane === 'dead')).toEqual([]);
    const inLog = records.map((r) => {
      const { vehicleId, seq } = JSON.parse(r.text) as { vehicleId: string; seq: number };
      return `${vehicleId}/${seq}`;
    });
    expect(new Set(inLog).size).toBe(inLog.length); // re-sent messages were appended once
    const acked = [...result.ackedSeqs].flatMap(([id, seqs]) => seqs.map((s) => `${id}/${s}`));
    expect(new Set(inLog)).toEqual(new Set(acked));
    expect(result.acked).toBe(acked.length);
    expect(result.backlog).toBe(0);
    console.log(`sim → agent: ${result.vehicles} vehicles, ${result.made} made, ${result.sent} sent (re-sends included), ${result.acked} acknowledged = ${inLog.length} in the log, ${(result.wallMs / 1000).toFixed(1)} s`);
  }, 120_000);

  it('device time is the wall clock with a start of `now`, however long connecting the fleet takes', async () => {
    // Every CONNECT is answered after 400 ms: 40 vehicles, 20 at a time, take about a second to connect.
    const broker = await Aedes.createBroker({ authenticate: (_c, _u, _p, done) => void setTimeout(() => done(null, true), 400) });
    const behind: number[] = [];
    broker.on('publish', (packet, client) => {
      if (client === null) return;
      behind.push(Date.now() - (JSON.parse(packet.payload.toString()) as { ts: number }).ts);
    });
    const server = createServer(broker.handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const startedAt = Date.now();
    try {
      const result = await runFleet({ vehicles: 40, seed: 3, speedup: 1, durationMs: 3_000, rateHz: 5, startTs: startedAt, startNow: true, idPrefix: 'NOW', broker: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}` });
      expect(result.acked).toBeGreaterThan(0);
    } finally {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    expect(behind.length).toBeGreaterThan(40 * 10);
    // Most records reach the broker within a few of the fleet's 50 ms steps of their device time, not a connecting second behind
    // (a vehicle in a simulated link loss sends its buffer later: those are legitimately behind).
    const sorted = [...behind].sort((a, b) => a - b);
    expect(sorted[Math.floor(sorted.length / 2)], `median ms behind device time`).toBeLessThan(300);
    expect(sorted[0]).toBeGreaterThanOrEqual(-5); // and never ahead of the clock
  }, 60_000);

  it('the CLI with per-vehicle credentials: `roadlog sim-credentials` for the agent, `roadlog sim --secret` for the vehicles', async () => {
    const dir = await tempDir();
    const creds = await runCli(['sim-credentials', '--secret', 'fleet-secret', '--vehicles', '5']);
    expect(creds.code, creds.stderr).toBe(0);
    const file = join(dir, 'vehicles.passwd');
    await writeFile(file, creds.stdout);
    const agent = await startAgentProcess(dir, { dataDir: dir, mqtt: { host: '127.0.0.1', port: 0, credentialsFile: file }, http: { port: 0 } });
    try {
      const truth = join(dir, 'truth.jsonl');
      const sim = await runCli(['sim', '--vehicles', '5', '--secret', 'fleet-secret', '--broker', `mqtt://127.0.0.1:${agent.port}`, '--duration', '30s', '--speedup', '10', '--truth', truth], { timeoutMs: 60_000 });
      expect(sim.code, sim.stderr).toBe(0);
      const m = /sim: 5 vehicles, (\d+) messages made, (\d+) acknowledged, 0 unsent/.exec(sim.stdout);
      expect(m, sim.stdout).not.toBeNull();
      expect(Number(m![2])).toBeGreaterThanOrEqual(Number(m![1]) - 5 * 6); // all made (a silent spell or a link loss still being uploaded aside)
      const lines = (await readFile(truth, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { type: string });
      expect(lines[0]).toMatchObject({ type: 'run', seed: 1, vehicles: 5 });
      expect(lines.filter((l) => l.type === 'vehicle')).toHaveLength(5);
      // What the agent acknowledged, per vehicle, as seq ranges: as many as the summary says, and in the agent's log.
      const acked = lines.filter((l) => l.type === 'acked') as unknown as { vehicleId: string; count: number; seqs: [number, number][] }[];
      expect(acked).toHaveLength(5);
      expect(acked.reduce((n, a) => n + a.count, 0)).toBe(Number(m![2]));
      for (const a of acked) expect(a.seqs.reduce((n, [from, to]) => n + to - from + 1, 0)).toBe(a.count);
      // A wrong secret is refused at CONNECT: nothing is acknowledged.
      const wrong = await runCli(['sim', '--vehicles', '1', '--secret', 'not-it', '--broker', `mqtt://127.0.0.1:${agent.port}`, '--duration', '5s', '--speedup', '5'], { timeoutMs: 30_000 });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(/^roadlog: ROADLOG_ERR_MQTT_AUTH mqtt:\/\/127\.0\.0\.1:\d+ refused SIM-00000's login/);
      const nobody = await runCli(['sim', '--vehicles', '1', '--broker', 'mqtt://127.0.0.1:9', '--duration', '5s'], { timeoutMs: 30_000 });
      expect(nobody.code).toBe(1);
      expect(nobody.stderr).toMatch(/^roadlog: ROADLOG_ERR_MQTT_UNAVAILABLE no vehicle could connect to mqtt:\/\/127\.0\.0\.1:9/);
    } finally {
      expect((await agent.stop()).code).toBe(0);
    }
  }, 120_000);

  it('a gateway killed with SIGKILL mid-run and started again: the vehicles reconnect, send what they held, and the truth file says when they were without it', async () => {
    const dir = await tempDir();
    const port = await freePort();
    const edge = { dataDir: dir, mqtt: { host: '127.0.0.1', port, allowAnonymous: true }, http: { port: 0 } };
    let agent = await startAgentProcess(dir, edge);
    const truth = join(dir, 'truth.jsonl');
    const sim = runCli(['sim', '--vehicles', '3', '--broker', `mqtt://127.0.0.1:${port}`, '--duration', '60s', '--speedup', '5', '--truth', truth, '--progress', 'none'], { timeoutMs: 90_000 });
    await new Promise((r) => setTimeout(r, 3_000));
    agent.child.kill('SIGKILL');
    await agent.exited;
    await new Promise((r) => setTimeout(r, 2_000));
    agent = await startAgentProcess(dir, edge);
    try {
      const done = await sim;
      expect(done.code, done.stderr).toBe(0);
      const m = /(\d+) messages made, (\d+) acknowledged, 0 unsent/.exec(done.stdout);
      expect(m, done.stdout).not.toBeNull();
      const acked = Number(m![2]);
      const lines = (await readFile(truth, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { type: string; vehicleId: string; fromTs: number; toTs: number; count: number });
      const spells = lines.filter((l) => l.type === 'disconnected');
      // Each vehicle was without the gateway for the 2 s it was down at least (10 s of device time at 5×), once.
      expect(new Set(spells.map((d) => d.vehicleId)).size, JSON.stringify(spells)).toBe(3);
      for (const d of spells) expect(d.toTs - d.fromTs).toBeGreaterThanOrEqual(9_000);
      // Every message made is acknowledged in the end, and the truth file lists them.
      expect(lines.filter((l) => l.type === 'acked').reduce((n, a) => n + a.count, 0)).toBe(acked);
      expect(acked).toBe(Number(m![1]));
    } finally {
      expect((await agent.stop()).code).toBe(0);
    }
  }, 120_000);
});
