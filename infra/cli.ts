/**
 * `roadlog kafka|influx|mosquitto start|stop|status`: the real services, started by the
 * project (see infra/README.md). The service modules load only when a command runs.
 */
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { RoadlogError } from '../shared/errors/index.js';
import { roadlogHome } from '../shared/home/index.js';
import { registerDemoCommand } from './demo/cli.js';

/** commander argParser for --port: an integer 1..65535. */
export function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > 65535) {
    throw new RoadlogError('ROADLOG_ERR_USAGE', `--port: expected an integer from 1 to 65535, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** commander argParser for --nodes: 1 or 3. */
export function parseNodes(value: string): 1 | 3 {
  if (value.trim() === '1') return 1;
  if (value.trim() === '3') return 3;
  throw new RoadlogError('ROADLOG_ERR_USAGE', `--nodes: expected 1 or 3, got ${JSON.stringify(value)}`);
}

/** commander argParser for --heap-mb: 128..32768. */
export function parseHeapMb(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 128 || n > 32768) {
    throw new RoadlogError('ROADLOG_ERR_USAGE', `--heap-mb: expected an integer from 128 to 32768, got ${JSON.stringify(value)}`);
  }
  return n;
}

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const note = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
const seconds = (since: number): string => `${((Date.now() - since) / 1000).toFixed(1)} s`;

interface DirPortOptions {
  dir?: string;
  port?: number;
}

export function registerInfraCommands(program: Command): void {
  registerKafka(program);
  registerDemoCommand(program);
  registerDaemon(program, {
    command: 'influx',
    title: 'InfluxDB 1.x (Debian package influxdb)',
    defaultDir: () => join(roadlogHome(), 'influx'),
    load: async () => {
      const m = await import('./influx/server.js');
      return { start: m.startInflux, stop: m.stopInflux, status: m.influxStatus };
    },
  });
  registerDaemon(program, {
    command: 'mosquitto',
    title: 'Mosquitto MQTT broker (Debian package mosquitto)',
    defaultDir: () => join(roadlogHome(), 'mosquitto'),
    load: async () => {
      const m = await import('./mosquitto/server.js');
      return { start: m.startMosquitto, stop: m.stopMosquitto, status: m.mosquittoStatus };
    },
  });
}

function registerKafka(program: Command): void {
  const kafka = program
    .command('kafka')
    .description('a local Apache Kafka cluster (KRaft, 127.0.0.1) from the jars pinned in infra/kafka');
  const dirHelp = 'cluster directory (default: $ROADLOG_HOME/kafka, ROADLOG_HOME defaults to ~/.roadlog)';
  const dirOf = async (d: string | undefined): Promise<string> => (d !== undefined ? resolve(d) : (await import('./kafka/state.js')).defaultKafkaDir());

  kafka
    .command('start')
    .description('start a 1-node or 3-node cluster in the background; prints the bootstrap servers and records them as the default for other commands')
    .option('--nodes <n>', 'number of nodes: 1 (combined controller+broker) or 3 (3-voter quorum, replication factor 3, min ISR 2)', parseNodes, 1 as 1 | 3)
    .option('--dir <dir>', dirHelp)
    .option('--port <port>', 'first broker port: brokers use port..port+n-1, controllers port+n..port+2n-1 (default: free ports)', parsePort)
    .option('--heap-mb <mb>', 'JVM heap per node in MiB', parseHeapMb, 512)
    .option('--secure', 'also a SASL_SSL listener per node: a generated CA and broker certificate, user `roadlog` (SCRAM-SHA-512, SCRAM-SHA-256, PLAIN) with a random password; prints its bootstrap servers (see infra/kafka/README.md)')
    .action(async (opts: { nodes: 1 | 3; dir?: string; port?: number; heapMb: number; secure?: boolean }) => {
      const { startKafkaCluster } = await import('./kafka/cluster.js');
      const { recordLastCluster } = await import('../shared/home/index.js');
      const t0 = Date.now();
      const startOpts: import('./kafka/cluster.js').StartKafkaOptions = { nodes: opts.nodes, dir: await dirOf(opts.dir), heapMb: opts.heapMb, secure: opts.secure === true };
      if (opts.port !== undefined) startOpts.port = opts.port;
      const info = await startKafkaCluster(startOpts);
      await recordLastCluster(info);
      note(`kafka: ${info.nodes} node${info.nodes > 1 ? 's' : ''} ready in ${seconds(t0)} (cluster ${info.clusterId}, dir ${info.dir})`);
      if (info.secure !== undefined) {
        // stdout: the SASL_SSL bootstrap servers, what clients use; the rest is for people.
        note(`kafka: SASL_SSL ${info.secure.bootstrapServers}  CA ${info.secure.caFile}  user ${info.secure.username}  password in ${info.secure.passwordFile}  (PLAINTEXT, loopback: ${info.bootstrapServers})`);
        out(info.secure.bootstrapServers);
      } else {
        out(info.bootstrapServers);
      }
    });

  kafka
    .command('stop')
    .description('stop the cluster started from a directory (SIGTERM, then SIGKILL after the timeout)')
    .option('--dir <dir>', dirHelp)
    .option('--timeout-ms <ms>', 'wait this long for a controlled shutdown before SIGKILL', (v: string) => Number(v), 30_000)
    .action(async (opts: { dir?: string; timeoutMs: number }) => {
      const { stopKafkaCluster, kafkaClusterStatus } = await import('./kafka/cluster.js');
      const dir = await dirOf(opts.dir);
      const before = await kafkaClusterStatus(dir);
      const live = before.brokers.filter((b) => b.alive);
      if (live.length === 0) {
        note(`kafka: not running (dir ${dir})`);
        return;
      }
      const t0 = Date.now();
      await stopKafkaCluster(dir, { timeoutMs: opts.timeoutMs });
      note(`kafka: stopped ${live.length} node${live.length > 1 ? 's' : ''} in ${seconds(t0)} (dir ${dir})`);
    });

  kafka
    .command('status')
    .description('per-node pid, liveness and ports; exits 1 when no node is running')
    .option('--dir <dir>', dirHelp)
    .action(async (opts: { dir?: string }) => {
      const { kafkaClusterStatus } = await import('./kafka/cluster.js');
      const dir = await dirOf(opts.dir);
      const status = await kafkaClusterStatus(dir);
      if (status.info) out(`cluster ${status.info.clusterId}  bootstrap ${status.info.bootstrapServers}  dir ${dir}`);
      const secure = status.info?.secure;
      if (secure !== undefined) out(`secure ${secure.bootstrapServers}  SASL_SSL ${secure.mechanisms.join(',')}  user ${secure.username}  CA ${secure.caFile}  password in ${secure.passwordFile}`);
      for (const b of status.brokers) {
        const broker = status.info?.brokers.find((x) => x.nodeId === b.nodeId);
        const ports = broker ? `port ${broker.port}  controller ${broker.controllerPort}${broker.securePort === undefined ? '' : `  secure ${broker.securePort}`}  log ${broker.logFile}` : '';
        out(`node ${b.nodeId}  ${b.alive ? 'running' : 'stopped'}  pid ${b.pid || '-'}  ${ports}`.trimEnd());
      }
      if (!status.brokers.some((b) => b.alive)) {
        throw new RoadlogError('ROADLOG_ERR_SERVICE_NOT_RUNNING', `no Kafka node is running from ${dir}`);
      }
    });

  for (const [name, main, what] of [
    ['perf-producer', 'org.apache.kafka.tools.ProducerPerformance', 'ProducerPerformance'],
    ['perf-consumer', 'org.apache.kafka.tools.ConsumerPerformance', 'ConsumerPerformance'],
  ] as const) {
    kafka
      .command(name)
      .description(`run Kafka's ${what} with the given arguments (after --), e.g. \`roadlog kafka ${name} -- --help\``)
      .argument('[args...]', `arguments for ${main}`)
      .allowUnknownOption()
      .action(async (args: string[]) => {
        const { runKafkaTool } = await import('./kafka/cluster.js');
        const res = await runKafkaTool(main, args, { timeoutMs: 3_600_000 });
        process.stdout.write(res.stdout);
        process.stderr.write(res.stderr);
        if (res.code !== 0) throw new RoadlogError('ROADLOG_ERR_SERVICE_START_FAILED', `${what} exited with code ${res.code}`);
      });
  }
}

interface DaemonCommands {
  command: string;
  title: string;
  defaultDir: () => string;
  load: () => Promise<{
    start: (opts: { dir: string; port?: number }) => Promise<{ dir: string; port: number; pid: number; logFile: string; url: string }>;
    stop: (dir: string) => Promise<void>;
    status: (dir: string) => Promise<{ running: boolean; pid?: number; info?: { url: string; logFile: string } }>;
  }>;
}

function registerDaemon(program: Command, spec: DaemonCommands): void {
  const cmd = program.command(spec.command).description(`${spec.title} on 127.0.0.1, with its data in a directory of its own`);
  const dirHelp = `data directory (default: $ROADLOG_HOME/${spec.command}, ROADLOG_HOME defaults to ~/.roadlog)`;
  const dirOf = (d: string | undefined): string => (d !== undefined ? resolve(d) : spec.defaultDir());

  cmd
    .command('start')
    .description(`start ${spec.command} in the background; prints its URL`)
    .option('--dir <dir>', dirHelp)
    .option('--port <port>', 'port to listen on (default: a free port)', parsePort)
    .action(async (opts: DirPortOptions) => {
      const svc = await spec.load();
      const t0 = Date.now();
      const startOpts: { dir: string; port?: number } = { dir: dirOf(opts.dir) };
      if (opts.port !== undefined) startOpts.port = opts.port;
      const info = await svc.start(startOpts);
      note(`${spec.command}: ready in ${seconds(t0)} (pid ${info.pid}, log ${info.logFile})`);
      out(info.url);
    });

  cmd
    .command('stop')
    .description(`stop the ${spec.command} started from a directory (SIGTERM, then SIGKILL)`)
    .option('--dir <dir>', dirHelp)
    .action(async (opts: DirPortOptions) => {
      const svc = await spec.load();
      const dir = dirOf(opts.dir);
      const before = await svc.status(dir);
      await svc.stop(dir);
      note(before.running ? `${spec.command}: stopped pid ${before.pid} (dir ${dir})` : `${spec.command}: not running (dir ${dir})`);
    });

  cmd
    .command('status')
    .description('pid, URL and log file; exits 1 when not running')
    .option('--dir <dir>', dirHelp)
    .action(async (opts: DirPortOptions) => {
      const svc = await spec.load();
      const dir = dirOf(opts.dir);
      const status = await svc.status(dir);
      if (!status.running) throw new RoadlogError('ROADLOG_ERR_SERVICE_NOT_RUNNING', `${spec.command} is not running from ${dir}`);
      out(`${spec.command}  running  pid ${status.pid}  ${status.info?.url ?? ''}  log ${status.info?.logFile ?? '-'}`);
    });
}
