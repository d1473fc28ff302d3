/**
 * Local Apache Kafka clusters (KRaft, 127.0.0.1) run from the jars in infra/kafka/lib.
 *
 * Layout of a cluster directory:
 *   cluster.json                 KafkaClusterInfo of the last start
 *   node-<id>/server.properties  node config (infra/kafka/config.ts)
 *   node-<id>/log4j2.properties
 *   node-<id>/data/              log.dirs (formatted once with kafka.tools.StorageTool)
 *   node-<id>/logs/server.log    broker log; logs/stdout.log: JVM stdout/stderr
 *   node-<id>/kafka.pid
 *   secure/                      CA, broker keystore, client password (`secure: true`; infra/kafka/certs.ts)
 *
 * Starting again from a stopped directory with the same node count keeps the data, the
 * cluster id and (unless a port is given) the ports.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { RoadlogError } from '../../shared/errors/index.js';
import {
  LOOPBACK, assertPortsFree, freePorts, isServiceProcess, livePid, readPidFile, signal, spawnDetached, tcpReady, terminate,
  waitForExit, waitUntilReady, writePidFile,
} from '../service/index.js';
import { SASL_MECHANISMS, jvmArgs, nodeDirOf, nodePaths, renderLog4j2Properties, renderServerProperties, type NodePlan } from './config.js';
import { ensureSecureFiles, type SecureFiles } from './certs.js';
import { KAFKA_MAIN, formatStorage, javaBin, kafkaClasspath, newClusterId } from './jvm.js';
import { describeCluster } from './probe.js';

export { kafkaClasspath, runKafkaTool } from './jvm.js';

export interface KafkaBroker { nodeId: number; host: string; port: number; controllerPort: number; securePort?: number; pid: number; logFile: string; dataDir: string }
/** What a client needs for the SASL_SSL listener of a `secure` cluster. */
export interface KafkaSecureListener {
  /** `host:port,...` of the SASL_SSL listeners. */
  bootstrapServers: string;
  /** The cluster's CA certificate (PEM). */
  caFile: string;
  username: string;
  /** The user's password, in a 0600 file. */
  passwordFile: string;
  mechanisms: string[];
}
export interface KafkaClusterInfo {
  dir: string;
  nodes: number;
  clusterId: string;
  /** The PLAINTEXT listeners (loopback only). */
  bootstrapServers: string;
  /** Set when started with `secure: true`. */
  secure?: KafkaSecureListener;
  brokers: KafkaBroker[];
  startedAt: string;
}
export interface StartKafkaOptions {
  nodes?: 1 | 3;
  dir: string;
  /** First broker port; brokers use port..port+n-1, controllers port+n..port+2n-1. 0 or undefined: free ports. */
  port?: number;
  /** Default 90000. */
  startTimeoutMs?: number;
  /** Default 512. */
  heapMb?: number;
  /**
   * Also a SASL_SSL listener per node (ports after the controllers' ones), with a generated CA
   * and broker certificate and a SCRAM-SHA-512/SCRAM-SHA-256/PLAIN user (`info.secure`).
   */
  secure?: boolean;
}

const CLUSTER_FILE = 'cluster.json';

async function readClusterFile(dir: string): Promise<KafkaClusterInfo | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, CLUSTER_FILE), 'utf8')) as KafkaClusterInfo;
  } catch {
    return undefined;
  }
}

async function writeClusterFile(info: KafkaClusterInfo): Promise<void> {
  await writeFile(join(info.dir, CLUSTER_FILE), `${JSON.stringify(info, null, 2)}\n`);
}

/** Node ids with a directory (or recorded in cluster.json). */
async function knownNodeIds(dir: string, info?: KafkaClusterInfo): Promise<number[]> {
  if (info) return info.brokers.map((b) => b.nodeId);
  const ids: number[] = [];
  for (let id = 1; id <= 9; id++) if (existsSync(nodeDirOf(dir, id))) ids.push(id);
  return ids;
}

async function liveNodePid(dir: string, nodeId: number): Promise<number | undefined> {
  const paths = nodePaths(nodeDirOf(dir, nodeId));
  return livePid(paths.pidFile, paths.serverProperties);
}

async function spawnNode(plan: NodePlan, heapMb: number, classpath: string): Promise<number> {
  const paths = nodePaths(plan.nodeDir);
  const args = [
    ...jvmArgs({ heapMb, log4jProperties: paths.log4jProperties, logDir: join(plan.nodeDir, 'logs') }),
    '-cp', classpath, KAFKA_MAIN, paths.serverProperties,
  ];
  const pid = await spawnDetached({ command: javaBin(), args, outFile: paths.outFile, cwd: plan.nodeDir });
  await writePidFile(paths.pidFile, pid);
  return pid;
}

function bootstrapOf(plans: { port: number }[]): string[] {
  return plans.map((p) => `${LOOPBACK}:${p.port}`);
}

/** Ready when describeCluster (through any listed broker) shows every node in `nodeIds`, and every secure listener accepts connections. */
function clusterProbe(bootstrap: string[], nodeIds: number[], securePorts: number[] = []): () => Promise<boolean> {
  return async () => {
    for (const port of securePorts) if (!(await tcpReady(port))) return false;
    const view = await describeCluster(bootstrap);
    const seen = new Set(view.brokers.map((b) => b.nodeId));
    return nodeIds.every((id) => seen.has(id));
  };
}

export async function startKafkaCluster(opts: StartKafkaOptions): Promise<KafkaClusterInfo> {
  const dir = resolve(opts.dir);
  const n = opts.nodes ?? 1;
  if (n !== 1 && n !== 3) throw new RoadlogError('ROADLOG_ERR_USAGE', `nodes: expected 1 or 3, got ${String(n)}`);
  const heapMb = opts.heapMb ?? 512;
  const secure = opts.secure === true;
  const timeoutMs = opts.startTimeoutMs ?? 90_000;
  await mkdir(dir, { recursive: true });

  const previous = await readClusterFile(dir);
  for (const id of await knownNodeIds(dir, previous)) {
    const pid = await liveNodePid(dir, id);
    if (pid !== undefined) {
      throw new RoadlogError('ROADLOG_ERR_SERVICE_ALREADY_RUNNING', `Kafka node ${id} is already running from ${dir} (pid ${pid})`, { details: { pid, dir } });
    }
  }
  const classpath = kafkaClasspath();

  // Reuse a stopped cluster of the same size and kind; otherwise start from empty node
  // directories (a plain cluster's metadata has no SCRAM users to add a secure listener to).
  const reuse = previous !== undefined && previous.nodes === n && (previous.secure !== undefined) === secure;
  if (!reuse) {
    for (const id of await knownNodeIds(dir, previous)) await rm(nodeDirOf(dir, id), { recursive: true, force: true });
  }
  const clusterId = reuse ? previous.clusterId : newClusterId();
  const count = (secure ? 3 : 2) * n;
  let ports: number[];
  if (opts.port !== undefined && opts.port !== 0) {
    if (opts.port + count - 1 > 65535) throw new RoadlogError('ROADLOG_ERR_USAGE', `port: ${opts.port} leaves no room for ${count} ports`);
    ports = Array.from({ length: count }, (_, i) => (opts.port as number) + i);
  } else if (reuse) {
    ports = [...previous.brokers.map((b) => b.port), ...previous.brokers.map((b) => b.controllerPort), ...(secure ? previous.brokers.map((b) => b.securePort ?? 0) : [])];
  } else {
    ports = await freePorts(count);
  }
  const plans: NodePlan[] = Array.from({ length: n }, (_, i) => ({
    nodeId: i + 1,
    port: ports[i] as number,
    controllerPort: ports[n + i] as number,
    ...(secure ? { securePort: ports[2 * n + i] as number } : {}),
    nodeDir: nodeDirOf(dir, i + 1),
  }));
  const files: SecureFiles | undefined = secure ? await ensureSecureFiles(dir) : undefined;

  await assertPortsFree('Kafka', ports);
  await Promise.all(plans.map(async (plan) => {
    const paths = nodePaths(plan.nodeDir);
    await mkdir(join(plan.nodeDir, 'logs'), { recursive: true });
    // A secure node's properties hold the keystore and PLAIN passwords: owner only.
    await writeFile(paths.serverProperties, renderServerProperties(plan, plans, files), { mode: 0o600 });
    await chmod(paths.serverProperties, 0o600);
    await writeFile(paths.log4jProperties, renderLog4j2Properties(paths.logFile));
    await writeFile(heapFileOf(plan.nodeDir), `${heapMb}\n`);
    if (!existsSync(join(paths.dataDir, 'meta.properties'))) await formatStorage(clusterId, paths.serverProperties, files && { name: files.username, password: files.password });
  }));

  const pids: number[] = [];
  try {
    for (const plan of plans) pids.push(await spawnNode(plan, heapMb, classpath));
    const logOf = new Map(plans.map((p, i) => [pids[i] as number, nodePaths(p.nodeDir).logFile]));
    await waitUntilReady({
      name: `Kafka (${n} node${n > 1 ? 's' : ''})`,
      probe: clusterProbe(bootstrapOf(plans), plans.map((p) => p.nodeId), plans.flatMap((p) => p.securePort ?? [])),
      pids,
      logFile: nodePaths(plans[0]!.nodeDir).logFile,
      logFileOf: (pid) => logOf.get(pid),
      timeoutMs,
      intervalMs: 250,
    });
  } catch (err) {
    await Promise.all(pids.map((pid) => terminate(pid, 5_000).catch(() => undefined)));
    await Promise.all(plans.map((p) => rm(nodePaths(p.nodeDir).pidFile, { force: true })));
    throw err;
  }

  const info: KafkaClusterInfo = {
    dir,
    nodes: n,
    clusterId,
    bootstrapServers: bootstrapOf(plans).join(','),
    ...(files === undefined ? {} : {
      secure: {
        bootstrapServers: plans.map((p) => `${LOOPBACK}:${p.securePort}`).join(','),
        caFile: files.caFile,
        username: files.username,
        passwordFile: files.passwordFile,
        mechanisms: [...SASL_MECHANISMS],
      },
    }),
    brokers: plans.map((p, i) => {
      const paths = nodePaths(p.nodeDir);
      return {
        nodeId: p.nodeId, host: LOOPBACK, port: p.port, controllerPort: p.controllerPort, ...(p.securePort === undefined ? {} : { securePort: p.securePort }),
        pid: pids[i] as number, logFile: paths.logFile, dataDir: paths.dataDir,
      };
    }),
    startedAt: new Date().toISOString(),
  };
  await writeClusterFile(info);
  return info;
}

export async function stopKafkaCluster(dir: string, opts: { timeoutMs?: number } = {}): Promise<void> {
  const abs = resolve(dir);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const ids = await knownNodeIds(abs, await readClusterFile(abs));
  const live = await Promise.all(ids.map(async (id) => ({ id, pid: await liveNodePid(abs, id) })));
  // SIGTERM all at once: each node does a controlled shutdown; SIGKILL whoever outlives the timeout.
  await Promise.all(live.map(async ({ id, pid }) => {
    if (pid !== undefined) await terminate(pid, timeoutMs);
    await rm(nodePaths(nodeDirOf(abs, id)).pidFile, { force: true });
  }));
}

export async function kafkaClusterStatus(dir: string): Promise<{ info?: KafkaClusterInfo; brokers: { nodeId: number; pid: number; alive: boolean }[] }> {
  const abs = resolve(dir);
  const info = await readClusterFile(abs);
  const brokers = await Promise.all((await knownNodeIds(abs, info)).map(async (nodeId) => {
    const paths = nodePaths(nodeDirOf(abs, nodeId));
    const pid = (await readPidFile(paths.pidFile)) ?? 0;
    return { nodeId, pid, alive: pid > 0 && isServiceProcess(pid, paths.serverProperties) };
  }));
  return info === undefined ? { brokers } : { info, brokers };
}

async function requireCluster(dir: string, nodeId: number): Promise<{ info: KafkaClusterInfo; broker: KafkaBroker }> {
  const info = await readClusterFile(resolve(dir));
  const broker = info?.brokers.find((b) => b.nodeId === nodeId);
  if (info === undefined || broker === undefined) {
    throw new RoadlogError('ROADLOG_ERR_SERVICE_NOT_RUNNING', `no Kafka node ${nodeId} recorded in ${resolve(dir)}/${CLUSTER_FILE}`);
  }
  return { info, broker };
}

/** Sends `signal` (default SIGKILL) to one node and waits (up to 30 s) until it has exited. */
export async function killBroker(dir: string, nodeId: number, sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  await requireCluster(dir, nodeId);
  const pid = await liveNodePid(resolve(dir), nodeId);
  if (pid === undefined) throw new RoadlogError('ROADLOG_ERR_SERVICE_NOT_RUNNING', `Kafka node ${nodeId} in ${resolve(dir)} is not running`);
  signal(pid, sig);
  if (!(await waitForExit(pid, 30_000))) {
    throw new RoadlogError('ROADLOG_ERR_TIMEOUT', `Kafka node ${nodeId} (pid ${pid}) still runs 30 s after ${sig}`);
  }
  // The JVM's main thread is gone (a zombie counts as exited) while its other threads may still
  // be exiting with the listening sockets open: wait until its ports refuse, so a restart finds them free.
  const { broker } = await requireCluster(dir, nodeId);
  const ports = [broker.port, broker.controllerPort, ...(broker.securePort === undefined ? [] : [broker.securePort])];
  const deadline = Date.now() + 15_000;
  while ((await Promise.all(ports.map((p) => tcpReady(p, LOOPBACK, 200)))).some(Boolean)) {
    if (Date.now() >= deadline) throw new RoadlogError('ROADLOG_ERR_TIMEOUT', `Kafka node ${nodeId}'s ports ${ports.join(', ')} still accept connections 15 s after it exited`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts a stopped node again with its config and data; resolves when the cluster lists it. */
export async function restartBroker(dir: string, nodeId: number, opts: { timeoutMs?: number; heapMb?: number } = {}): Promise<void> {
  const abs = resolve(dir);
  const { info, broker } = await requireCluster(abs, nodeId);
  const running = await liveNodePid(abs, nodeId);
  if (running !== undefined) {
    throw new RoadlogError('ROADLOG_ERR_SERVICE_ALREADY_RUNNING', `Kafka node ${nodeId} is already running from ${abs} (pid ${running})`);
  }
  const plan: NodePlan = { nodeId, port: broker.port, controllerPort: broker.controllerPort, nodeDir: nodeDirOf(abs, nodeId) };
  const paths = nodePaths(plan.nodeDir);
  await assertPortsFree(`Kafka node ${nodeId}`, [plan.port, plan.controllerPort, ...(broker.securePort === undefined ? [] : [broker.securePort])]);
  const heapMb = opts.heapMb ?? heapMbOf(await readFile(heapFileOf(plan.nodeDir), 'utf8').catch(() => ''));
  const pid = await spawnNode(plan, heapMb, kafkaClasspath());
  try {
    await waitUntilReady({
      name: `Kafka node ${nodeId}`,
      probe: async () => (await tcpReady(broker.port)) && (await clusterProbe([`${LOOPBACK}:${broker.port}`], [nodeId])()),
      pids: [pid],
      logFile: paths.logFile,
      timeoutMs: opts.timeoutMs ?? 90_000,
      intervalMs: 250,
    });
  } catch (err) {
    await terminate(pid, 5_000).catch(() => undefined);
    await rm(paths.pidFile, { force: true });
    throw err;
  }
  broker.pid = pid;
  await writeClusterFile(info);
}

/** The heap size a node was started with, so restartBroker starts it alike. */
function heapFileOf(nodeDir: string): string {
  return join(nodeDir, 'heap-mb');
}

function heapMbOf(text: string): number {
  const n = Number.parseInt(text.trim(), 10);
  return Number.isInteger(n) && n > 0 ? n : 512;
}
