/**
 * The brokers the ingest benchmark compares, each started as a process of its own on 127.0.0.1
 * and stopped with SIGTERM: the edge agent (`roadlog edge start` from dist/, or another build as
 * `agent-b`), raw aedes (no hooks, no storage) and Mosquitto (Debian's, persistence off). Every
 * child is tracked so that a failed or interrupted run kills them all (`killAll`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../../shared/heap/young-generation.js';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CLI = process.env.ROADLOG_BENCH_CLI ?? join(REPO, 'dist/shared/cli/main.js');
export const MOSQUITTO = process.env.ROADLOG_MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';

// ---------------------------------------------------------------------------------------------
// The raw aedes reference: plain JavaScript run by node itself (no tsx loader in its RSS).

const RAW_AEDES_JS = `
import { createServer } from 'node:net';
import { Aedes } from 'aedes';
const broker = await Aedes.createBroker();
const server = createServer((socket) => { socket.setNoDelay(true); broker.handle(socket); });
server.maxConnections = 20000;
server.listen(0, '127.0.0.1', () => process.stdout.write('mqtt mqtt://127.0.0.1:' + server.address().port + '\\n'));
process.once('SIGTERM', () => { server.close(); broker.close(() => process.exit(0)); });
`;

export const children = new Set<ChildProcess>();

export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

export interface Target {
  name: string;
  pid: number;
  url: string;
  /** The agent's /metrics base URL (agent targets only). */
  httpUrl?: string;
  stop(): Promise<number>;
}

/** A Prometheus histogram on a component's /metrics: cumulative count per upper bound (seconds; +Inf as Infinity). */
export async function histogramBuckets(httpUrl: string, name: string): Promise<Map<number, number>> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const buckets = new Map<number, number>();
  for (const m of text.matchAll(new RegExp(`^${name}_bucket\\{[^}]*le="([^"]+)"[^}]*\\} (\\d+)$`, 'gm'))) buckets.set(m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2]));
  return buckets;
}

/** The agent's group-commit flushes (write + fdatasync), cumulative, from its /metrics. */
export async function flushBuckets(httpUrl: string): Promise<Map<number, number>> {
  return histogramBuckets(httpUrl, 'roadlog_edge_log_flush_seconds');
}


export interface FlushStats {
  n: number;
  /** Flushes that took more than 10 ms (the PUBACK p99 target): the disk's share of a slow round. */
  over10ms: number;
  /** Upper bound of the bucket holding the 99th percentile, in ms. */
  p99Ms: number;
}

export function flushStats(before: Map<number, number>, after: Map<number, number>): FlushStats {
  const les = [...after.keys()].sort((a, b) => a - b);
  const cum = (le: number): number => (after.get(le) ?? 0) - (before.get(le) ?? 0);
  const n = cum(Infinity);
  const p99 = les.find((le) => cum(le) >= 0.99 * n) ?? Infinity;
  return { n, over10ms: n - cum(0.01), p99Ms: p99 * 1000 };
}

function waitForLine(child: ChildProcess, pattern: RegExp, what: string, timeoutMs = 20_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${what}: nothing matching ${pattern} after ${timeoutMs} ms\n${out}\n${err}`)), timeoutMs);
    child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}\n${out}\n${err}`));
    });
  });
}

async function stopChild(child: ChildProcess, timeoutMs = 20_000): Promise<number> {
  if (child.exitCode !== null || child.signalCode !== null) return 0;
  const t = performance.now();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
  return performance.now() - t;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts a broker. `agent-kafka` is the agent with its forwarder sending to `kafka` (a
 * gateway's real work: store, acknowledge, forward); `agent` and `agent-b` keep records in
 * their log.
 */
export async function startTarget(name: string, dir: string, credentialsFile?: string, quota = { messagesPerSecond: 1_000_000, burst: 1_000_000 }, kafka?: { brokers: string; prefix: string }): Promise<Target> {
  await mkdir(dir, { recursive: true });
  let child: ChildProcess;
  if (name === 'agent-kafka' && kafka === undefined) throw new Error('agent-kafka needs a Kafka cluster');
  if (name === 'agent' || name === 'agent-b' || name === 'agent-kafka') {
    // agent-b: another build of the CLI (ROADLOG_BENCH_CLI_B), measured in the same run (A/B).
    const cli = name === 'agent-b' ? process.env.ROADLOG_BENCH_CLI_B : CLI;
    if (cli === undefined || !existsSync(cli)) throw new Error(`${cli ?? 'ROADLOG_BENCH_CLI_B'} is missing: run \`npm run build\` first`);
    const config = join(dir, 'agent.yaml');
    await writeFile(
      config,
      [
        'edge:',
        '  gatewayId: bench',
        `  dataDir: ${join(dir, 'agent')}`,
        '  mqtt:',
        '    host: 127.0.0.1',
        '    port: 0',
        credentialsFile === undefined ? '    allowAnonymous: true   # logins without scrypt: this measures ingest, not login' : `    credentialsFile: ${credentialsFile}`,
        '    maxConnections: 20000',
        `    rateLimit: { messagesPerSecond: ${quota.messagesPerSecond}, burst: ${quota.burst} }`,
        '  http: { host: 127.0.0.1, port: 0 }',
        'log: { level: warn, format: json }',
        ...(name === 'agent-kafka' ? [`kafka: { brokers: ["${kafka!.brokers}"] }`, `topics: { prefix: ${kafka!.prefix} }`] : []),
        '',
      ].join('\n'),
    );
    child = track(spawn(process.execPath, [...NODE_FLAGS, cli, 'edge', 'start', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ROADLOG_HOME: dir } }));
  } else if (name === 'aedes') {
    child = track(spawn(process.execPath, ['--input-type=module', '-e', RAW_AEDES_JS], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] }));
  } else if (name === 'mosquitto') {
    if (!existsSync(MOSQUITTO)) throw new Error(`${MOSQUITTO} is missing: run \`bash infra/bootstrap.sh\``);
    const port = await freePort();
    const conf = join(dir, 'mosquitto.conf');
    await writeFile(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'set_tcp_nodelay true', 'max_connections -1', 'log_dest stderr', 'log_type error', `user ${userInfo().username}`, ''].join('\n'));
    child = track(spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] }));
    const deadline = Date.now() + 10_000;
    for (;;) {
      const up = await new Promise<boolean>((resolve) => {
        const s = createServer();
        s.once('error', () => resolve(true));
        s.listen(port, '127.0.0.1', () => s.close(() => resolve(false)));
      });
      if (up) break;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('mosquitto did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
    return { name, pid: child.pid!, url: `mqtt://127.0.0.1:${port}`, stop: () => stopChild(child) };
  } else {
    throw new Error(`unknown target ${name}`);
  }
  if (name === 'aedes') {
    const m = await waitForLine(child, /^mqtt (mqtt:\/\/127\.0\.0\.1:\d+)$/m, name);
    return { name, pid: child.pid!, url: m[1]!, stop: () => stopChild(child) };
  }
  // The agent prints its MQTT listener and its HTTP endpoint (for /metrics), in either order.
  const m = await waitForLine(child, /^(?=[\s\S]*^mqtt (mqtt:\/\/127\.0\.0\.1:\d+)$)(?=[\s\S]*^http (http:\/\/\S+)$)/m, name);
  return { name, pid: child.pid!, url: m[1]!, httpUrl: m[2]!, stop: () => stopChild(child) };
}
