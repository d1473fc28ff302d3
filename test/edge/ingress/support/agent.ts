import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { createEdgeAgent, type EdgeAgent, type EdgeAgentDeps } from '../../../../edge/agent/agent.js';
import { EdgeAgentOptionsSchema, type EdgeAgentOptionsInput } from '../../../../edge/agent/options.js';
import { hashSecret } from '../../../../shared/credentials/index.js';
import { LANES, openLog, type EdgeLogOptionsInput, type ReadRecord } from '../../../../edge/log/index.js';
import { exampleTelemetry } from '../../../../shared/schema/index.js';
import { createLogger } from '../../../../shared/logging/index.js';
import { startCli } from '../../../support/cli.js';

/** Small, quick logs for tests: 2 partitions, 64 KiB segments, no batching delay. */
export const TEST_LOG: EdgeLogOptionsInput = { partitions: 2, segmentBytes: 64 * 1024, allowSmallSegments: true, maxBatchDelayMs: 0 };

const dirs: string[] = [];
/** A temp dir removed by `removeTempDirs()` (call it in afterAll). */
export async function tempDir(prefix = 'roadlog-edge-', base = tmpdir()): Promise<string> {
  const d = await mkdtemp(join(base, prefix));
  dirs.push(d);
  return d;
}
/** tmpfs when there is one: for tests about the ingress, not the disk, where a slow fsync of a busy machine is noise. */
export const MEMORY_DIR = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

export async function removeTempDirs(): Promise<void> {
  if (process.env.ROADLOG_KEEP_TEST_DIRS === '1') return;
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
}

export const silentLogger = createLogger({ level: process.env.ROADLOG_TEST_LOG_LEVEL === undefined ? 'silent' : (process.env.ROADLOG_TEST_LOG_LEVEL as 'debug'), format: 'json' });

export interface TestAgent {
  agent: EdgeAgent;
  dataDir: string;
  /** mqtt://127.0.0.1:port of the plain TCP listener (embedded mode). */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** An in-process agent on loopback, free ports, a temp data dir; `overrides.mqtt` is merged over the defaults. */
export async function startAgent(overrides: Omit<EdgeAgentOptionsInput, 'mqtt'> & { mqtt?: Record<string, unknown> } = {}, deps: Partial<EdgeAgentDeps> = {}): Promise<TestAgent> {
  const dataDir = overrides.dataDir ?? (await tempDir());
  const options = EdgeAgentOptionsSchema.parse({
    gatewayId: 'gw-test',
    log: TEST_LOG,
    http: { host: '127.0.0.1', port: 0 },
    ...overrides,
    dataDir,
    mqtt: { host: '127.0.0.1', port: 0, ...overrides.mqtt },
  });
  const agent = await createEdgeAgent(options, { logger: silentLogger, ...deps });
  const tcp = agent.listeners.find((l) => l.protocol === 'mqtt');
  return { agent, dataDir, url: tcp?.url ?? '', port: tcp?.port ?? 0, close: () => agent.close() };
}

/** A credentials file (`vehicleId: scrypt$...`) for the given vehicles and secrets. */
export async function credentialsFile(dir: string, secrets: Record<string, string>): Promise<string> {
  const lines = await Promise.all(Object.entries(secrets).map(async ([id, secret]) => `${id}: ${await hashSecret(secret)}`));
  const file = join(dir, 'credentials');
  await writeFile(file, `${lines.join('\n')}\n`, { mode: 0o600 });
  return file;
}

/** A valid telemetry payload for `vehicleId` with this `seq`. */
export function telemetry(vehicleId: string, seq: number): string {
  return JSON.stringify(exampleTelemetry({ vehicleId, seq, ts: 1_767_225_600_000 + seq }));
}

export const topicOf = (vehicleId: string): string => `fleet/${vehicleId}/telemetry`;

/** mqtt.js, MQTT 3.1.1, no reconnect: a test sees every failure. Resolves on CONNACK. */
export function connectClient(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000, ...options });
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

export interface LaneRecord extends ReadRecord {
  /** Headers as UTF-8 strings by name. */
  h: Record<string, string>;
  text: string;
}

/** Every record of a closed agent's log (`{dataDir}/log`), lane by lane, in (partition, offset) order. */
export async function readLog(dataDir: string, options: EdgeLogOptionsInput = TEST_LOG): Promise<LaneRecord[]> {
  const log = await openLog(join(dataDir, 'log'), options);
  try {
    const reader = await log.openReader('test-read-all');
    const out: LaneRecord[] = [];
    for (;;) {
      const b = await reader.read({ maxRecords: 5_000, maxBytes: 16 << 20 });
      if (b.skipped.length > 0) throw new Error(`the log skipped ranges: ${JSON.stringify(b.skipped)}`);
      if (b.records.length === 0) break;
      for (const r of b.records) out.push({ ...r, text: Buffer.from(r.value).toString('utf8'), h: Object.fromEntries(r.headers.map((x) => [x.name, Buffer.from(x.value).toString('utf8')])) });
    }
    return out.sort((a, b) => LANES.indexOf(a.lane) - LANES.indexOf(b.lane) || a.partition - b.partition || a.offset - b.offset);
  } finally {
    await log.close();
  }
}

/** (vehicleId → seqs in log order) for the telemetry lanes (critical and normal). */
export function seqsByVehicle(records: readonly LaneRecord[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const r of records) {
    if (r.lane === 'dead') continue;
    const { vehicleId, seq } = JSON.parse(r.text) as { vehicleId: string; seq: number };
    if (vehicleId !== r.key) throw new Error(`record ${r.lane}/${r.partition}@${r.offset}: key ${r.key}, payload says ${vehicleId}`);
    const seqs = out.get(vehicleId);
    if (seqs === undefined) out.set(vehicleId, [seq]);
    else seqs.push(seq);
  }
  return out;
}

/** Run mosquitto_pub (the Debian package's client): exit code and output. */
export function mosquittoPub(args: string[], input = '', timeoutMs = 20_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('mosquitto_pub', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
    // mosquitto_pub may exit (refused, bad option) before it reads its input: the exit code
    // and output say so; the write's EPIPE is not the test's failure.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/**
 * Open a raw TCP connection, write `bytes`, and report how it ended: `closed` when the server
 * closed it (with the time it took), `open` if it was still open after `waitMs`.
 */
export function rawExchange(port: number, bytes: Buffer, waitMs: number): Promise<{ outcome: 'closed' | 'open' | 'error'; ms: number; received: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const socket = netConnect({ host: '127.0.0.1', port });
    let received = 0;
    let done = false;
    const finish = (outcome: 'closed' | 'open' | 'error'): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ outcome, ms: performance.now() - t0, received });
    };
    const timer = setTimeout(() => finish('open'), waitMs);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (d: Buffer) => (received += d.length));
    socket.on('error', () => undefined); // ECONNRESET from a server that destroyed the socket is a close
    socket.on('close', () => finish('closed'));
  });
}

/** The p-th percentile (0..100) of a list of numbers. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

export interface AgentProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  /** http://127.0.0.1:port of /healthz, /metrics, /status. */
  httpUrl: string;
  output: { stdout: string; stderr: string };
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resident set size of the agent process, from /proc/<pid>/status (bytes). */
  rss(): Promise<number>;
  /** SIGTERM and wait for a clean exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * The built CLI (`roadlog edge start --config FILE`) as a child process, the way a gateway runs
 * it; `edge` is the config file's `edge:` section (JSON is YAML). Ready when it prints its MQTT URL.
 */
export async function startAgentProcess(configDir: string, edge: Record<string, unknown>, timeoutMs = 20_000, sections: Record<string, unknown> = {}): Promise<AgentProcess> {
  const file = join(configDir, 'roadlog.yaml');
  await writeFile(file, JSON.stringify({ log: { level: 'warn', format: 'json' }, ...sections, edge }));
  const { child, output, exited } = startCli(['edge', 'start', '--config', file]);
  let gone: string | undefined;
  void exited.then(({ code, signal }) => (gone = `agent exited (${code ?? signal}) before it was ready: ${output.stderr}`));
  const deadline = Date.now() + timeoutMs;
  let port: number | undefined;
  let httpUrl = '';
  while (port === undefined) {
    const m = /^mqtt mqtt:\/\/[^:]+:(\d+)$/m.exec(output.stdout);
    const h = /^http (http:\/\/\S+)$/m.exec(output.stdout);
    if (m !== null && h !== null) {
      port = Number(m[1]);
      httpUrl = h[1]!;
    }
    else if (gone !== undefined) throw new Error(gone);
    else if (Date.now() > deadline) throw new Error(`agent not ready after ${timeoutMs} ms: ${output.stderr}`);
    else await new Promise((r) => setTimeout(r, 10));
  }
  return {
    child,
    pid: child.pid!,
    port,
    httpUrl,
    output,
    exited,
    rss: async () => Number(/^VmRSS:\s+(\d+) kB/m.exec(await readFile(`/proc/${child.pid}/status`, 'utf8'))?.[1]) * 1024,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
