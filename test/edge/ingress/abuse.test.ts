import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect as netConnect, type Socket } from 'node:net';
import { connectClient, credentialsFile, percentile, rawExchange, readLog, removeTempDirs, seqsByVehicle, startAgentProcess, telemetry, tempDir, topicOf, TEST_LOG, type AgentProcess } from './support/agent.js';
import { rng } from '../log/support/random.js';

/**
 * Hostile input at the agent's TCP port, against the built CLI in a child process (so its RSS
 * is its own): malformed and fuzzed MQTT packets never crash it, every bad connection is
 * closed, memory stays flat, connections that never send CONNECT are dropped at
 * connectTimeoutMs, and a legitimate vehicle is served throughout.
 */
const PACKETS = 10_000 * Number(process.env.ROADLOG_FAULT_SCALE ?? 1);
const MAX_PACKET = 8_192;
const CONNECT_TIMEOUT_MS = 500;
const GOOD = { username: 'VH-GOOD', password: 'good-secret' };

let dir: string;
let agent: AgentProcess;

beforeAll(async () => {
  dir = await tempDir('roadlog-abuse-');
  const credentials = await credentialsFile(dir, { [GOOD.username]: GOOD.password });
  agent = await startAgentProcess(dir, { gatewayId: 'gw-abuse', dataDir: dir, log: TEST_LOG, http: { port: 0 }, mqtt: { host: '127.0.0.1', port: 0, credentialsFile: credentials, maxPacketBytes: MAX_PACKET, connectTimeoutMs: CONNECT_TIMEOUT_MS } });
});
afterAll(async () => {
  await agent?.stop();
  await removeTempDirs();
});

// MQTT 3.1.1 encoding, by hand: the fuzzer must be able to write what no client library would.
const str = (s: string): Buffer => Buffer.concat([Buffer.from([s.length >> 8, s.length & 0xff]), Buffer.from(s)]);
function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}
const packet = (first: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([first]), varint(body.length), body]);
function connectPacket(opts: { name?: string; level?: number; clientId?: string; username?: string; password?: string } = {}): Buffer {
  const flags = 0x02 | (opts.username === undefined ? 0 : 0x80) | (opts.password === undefined ? 0 : 0x40);
  const body = [str(opts.name ?? 'MQTT'), Buffer.from([opts.level ?? 4, flags, 0, 60]), str(opts.clientId ?? 'fuzz')];
  if (opts.username !== undefined) body.push(str(opts.username));
  if (opts.password !== undefined) body.push(str(opts.password));
  return packet(0x10, Buffer.concat(body));
}
const publishPacket = (topic: string, payload: string): Buffer => packet(0x32, Buffer.concat([str(topic), Buffer.from([0, 1]), Buffer.from(payload)]));

/** One hostile opening of a connection; none of them carries valid credentials. */
function hostile(r: () => number, i: number): { kind: string; bytes: Buffer } {
  const int = (n: number): number => Math.floor(r() * n);
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(256)));
  const stranger = connectPacket({ clientId: `fuzz-${i}`, username: 'VH-NOBODY', password: 'not-a-secret' });
  switch (i % 9) {
    case 0:
      return { kind: 'random bytes', bytes: bytes(1 + int(200)) };
    case 1:
      return { kind: 'publish before connect', bytes: publishPacket(topicOf('VH-GOOD'), telemetry('VH-GOOD', 1)) };
    case 2:
      return { kind: 'length field over 4 bytes', bytes: Buffer.concat([Buffer.from([[0x10, 0x30, 0x82, 0xc0][int(4)]!, 0xff, 0xff, 0xff, 0xff, 0x7f]), bytes(int(20))]) };
    case 3:
      return { kind: 'oversize declared length', bytes: Buffer.concat([Buffer.from([int(2) === 0 ? 0x10 : 0x30]), varint(MAX_PACKET + int(268_435_455 - MAX_PACKET)), bytes(int(100))]) };
    case 4:
      return { kind: 'wrong protocol level', bytes: connectPacket({ level: [0, 1, 2, 6, 7, 42, 255][int(7)], clientId: `fuzz-${i}` }) };
    case 5:
      return { kind: 'wrong protocol name', bytes: connectPacket({ name: ['MQTX', 'HTTP', '', 'MQIsdpX'][int(4)], clientId: `fuzz-${i}` }) };
    case 6:
      return { kind: 'truncated connect', bytes: stranger.subarray(0, 1 + int(stranger.length - 1)) };
    case 7: {
      const b = Buffer.from(stranger);
      for (let k = 1 + int(4); k > 0; k--) b[int(b.length)] = int(256);
      return { kind: 'mutated connect', bytes: Buffer.concat([b, bytes(int(30))]) };
    }
    default:
      return { kind: 'unknown vehicle then garbage', bytes: Buffer.concat([stranger, bytes(1 + int(50))]) };
  }
}

describe('ingress under abuse (child process)', () => {
  it(`survives ${PACKETS} (+2,000 warm-up) malformed or fuzzed packets: each connection closed, RSS flat, a good client served after`, { timeout: 120_000 + PACKETS * 2 }, async () => {
    const good = await connectClient(`mqtt://127.0.0.1:${agent.port}`, { clientId: 'good', ...GOOD });
    for (let seq = 1; seq <= 200; seq++) await good.publishAsync(topicOf('VH-GOOD'), telemetry('VH-GOOD', seq), { qos: 1 }); // warm up
    const rssCold = await agent.rss();
    const r = rng(Number(process.env.ROADLOG_FUZZ_SEED ?? 5));
    const open: string[] = [];
    const kinds = new Map<string, number>();
    let peakRss = rssCold;
    /** `count` hostile connections, 100 at a time; each must be closed by the agent. */
    const storm = async (count: number): Promise<void> => {
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < count) {
          const i = next++;
          const { kind, bytes } = hostile(r, i);
          kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
          const result = await rawExchange(agent.port, bytes, CONNECT_TIMEOUT_MS + 4_000);
          if (result.outcome === 'open') open.push(`${kind}: ${bytes.subarray(0, 40).toString('hex')}`);
          if (i % 1000 === 0) peakRss = Math.max(peakRss, await agent.rss());
        }
      };
      await Promise.all(Array.from({ length: 100 }, worker));
    };
    // The first hostile connections grow the heap to its working size (V8 collects the old
    // generation late); the leak-relevant figure is the growth from there on.
    await storm(2_000);
    const rssBefore = await agent.rss();
    const t0 = Date.now();
    await storm(PACKETS);
    const fuzzMs = Date.now() - t0;
    expect(agent.child.exitCode, agent.output.stderr).toBeNull();
    expect(open).toEqual([]);

    // Still serving: the connection opened before the storm and a new one.
    for (let seq = 201; seq <= 250; seq++) await good.publishAsync(topicOf('VH-GOOD'), telemetry('VH-GOOD', seq), { qos: 1 });
    const fresh = await connectClient(`mqtt://127.0.0.1:${agent.port}`, { clientId: 'good-2', ...GOOD });
    await fresh.publishAsync(topicOf('VH-GOOD'), telemetry('VH-GOOD', 251), { qos: 1 });
    const rssAfter = await agent.rss();
    const growth = (rssAfter - rssBefore) / 2 ** 20;
    console.log(`abuse: ${PACKETS} hostile connections in ${fuzzMs} ms (${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}); RSS ${(rssCold / 2 ** 20).toFixed(1)} MiB before any, ${(rssBefore / 2 ** 20).toFixed(1)} after 2,000 warm-up ones, ${(rssAfter / 2 ** 20).toFixed(1)} after (peak sampled ${(peakRss / 2 ** 20).toFixed(1)}): growth ${growth.toFixed(1)} MiB (from cold ${((rssAfter - rssCold) / 2 ** 20).toFixed(1)})`);
    expect(growth).toBeLessThan(50);
    await good.endAsync();
    await fresh.endAsync();
  });

  it(`drops connections that never send CONNECT after ${CONNECT_TIMEOUT_MS} ms while a vehicle keeps publishing`, { timeout: 120_000 }, async () => {
    const SLOW = 300;
    const closedAfter: number[] = [];
    const sockets: Socket[] = [];
    const opened = Array.from({ length: SLOW }, (_, i) => new Promise<void>((resolve) => {
      const t0 = performance.now();
      const s = netConnect({ host: '127.0.0.1', port: agent.port });
      sockets.push(s);
      s.on('connect', () => {
        if (i % 2 === 1) s.write(Buffer.from([0x10])); // half of them start a CONNECT and never finish it
        resolve();
      });
      s.on('error', () => undefined);
      s.on('close', () => closedAfter.push(performance.now() - t0));
    }));
    await Promise.all(opened);
    const good = await connectClient(`mqtt://127.0.0.1:${agent.port}`, { clientId: 'good-slowloris', ...GOOD });
    const latencies: number[] = [];
    let seq = 1000;
    const until = performance.now() + CONNECT_TIMEOUT_MS + 2_500;
    while (performance.now() < until || closedAfter.length < SLOW) {
      if (performance.now() > until + 10_000) break;
      const s = performance.now();
      await good.publishAsync(topicOf('VH-GOOD'), telemetry('VH-GOOD', ++seq), { qos: 1 });
      latencies.push(performance.now() - s);
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const s of sockets) s.destroy();
    await good.endAsync();
    console.log(`slowloris: ${closedAfter.length}/${SLOW} idle connections closed by the agent after ${percentile(closedAfter, 0).toFixed(0)}..${percentile(closedAfter, 100).toFixed(0)} ms; meanwhile ${latencies.length} acks, p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms`);
    expect(closedAfter.length).toBe(SLOW);
    expect(percentile(closedAfter, 0)).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 50);
    expect(percentile(closedAfter, 100)).toBeLessThan(CONNECT_TIMEOUT_MS + 2_500);
    expect(latencies.length).toBeGreaterThan(20);
  });

  it('stopped cleanly with every acknowledged message of the good vehicle in the log, in order', async () => {
    expect(await agent.stop()).toEqual({ code: 0, signal: null });
    const seqs = seqsByVehicle(await readLog(dir)).get('VH-GOOD') ?? [];
    expect(seqs.slice(0, 251)).toEqual(Array.from({ length: 251 }, (_, i) => i + 1));
    expect(seqs.length).toBeGreaterThan(251 + 20);
    expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!)).toBe(true);
  });
});
