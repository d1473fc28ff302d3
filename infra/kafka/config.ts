/**
 * Rendering of a KRaft node's server.properties and log4j2.properties (pure functions).
 *
 * Every node is a combined controller+broker on 127.0.0.1. One node: all replication
 * factors 1. Three nodes: a 3-voter quorum, replication factor 3 and min ISR 2 for data
 * topics and Kafka's internal topics.
 */
import { join } from 'node:path';

export interface NodePlan {
  nodeId: number;
  port: number;
  controllerPort: number;
  /** `<clusterDir>/node-<id>` */
  nodeDir: string;
}

export interface NodePaths {
  nodeDir: string;
  /** log.dirs (and the KRaft metadata log). */
  dataDir: string;
  serverProperties: string;
  log4jProperties: string;
  /** Broker log written by log4j2. */
  logFile: string;
  /** stdout/stderr of the JVM (crashes before logging starts land here). */
  outFile: string;
  pidFile: string;
}

export function nodeDirOf(clusterDir: string, nodeId: number): string {
  return join(clusterDir, `node-${nodeId}`);
}

export function nodePaths(nodeDir: string): NodePaths {
  return {
    nodeDir,
    dataDir: join(nodeDir, 'data'),
    serverProperties: join(nodeDir, 'server.properties'),
    log4jProperties: join(nodeDir, 'log4j2.properties'),
    logFile: join(nodeDir, 'logs', 'server.log'),
    outFile: join(nodeDir, 'logs', 'stdout.log'),
    pidFile: join(nodeDir, 'kafka.pid'),
  };
}

const HOST = '127.0.0.1';

export function quorumVoters(nodes: NodePlan[]): string {
  return nodes.map((n) => `${n.nodeId}@${HOST}:${n.controllerPort}`).join(',');
}

export function renderServerProperties(node: NodePlan, all: NodePlan[]): string {
  const paths = nodePaths(node.nodeDir);
  const replicated = all.length >= 3;
  const rf = replicated ? 3 : 1;
  const minIsr = replicated ? 2 : 1;
  const props: [string, string | number][] = [
    ['process.roles', 'broker,controller'],
    ['node.id', node.nodeId],
    ['controller.quorum.voters', quorumVoters(all)],
    ['listeners', `PLAINTEXT://${HOST}:${node.port},CONTROLLER://${HOST}:${node.controllerPort}`],
    ['advertised.listeners', `PLAINTEXT://${HOST}:${node.port}`],
    ['listener.security.protocol.map', 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT'],
    ['controller.listener.names', 'CONTROLLER'],
    ['inter.broker.listener.name', 'PLAINTEXT'],
    ['log.dirs', paths.dataDir],
    ['num.partitions', 3],
    ['default.replication.factor', rf],
    ['min.insync.replicas', minIsr],
    ['offsets.topic.replication.factor', rf],
    ['offsets.topic.num.partitions', 10],
    ['transaction.state.log.replication.factor', rf],
    ['transaction.state.log.min.isr', minIsr],
    ['share.coordinator.state.topic.replication.factor', rf],
    ['share.coordinator.state.topic.min.isr', minIsr],
    ['group.initial.rebalance.delay.ms', 0],
    // A killed broker is fenced after 5 s instead of 9 s, so failover tests wait less.
    ['broker.heartbeat.interval.ms', 1000],
    ['broker.session.timeout.ms', 5000],
    ['auto.create.topics.enable', 'false'],
    ['num.recovery.threads.per.data.dir', 1],
    ['log.retention.check.interval.ms', 300000],
  ];
  return `# Written by roadlog (infra/kafka/config.ts); rewritten at every start.\n${props.map(([k, v]) => `${k}=${v}`).join('\n')}\n`;
}

/** Log4j 2 configuration: everything at INFO into one file, Kafka's chatty loggers at WARN. */
export function renderLog4j2Properties(logFile: string): string {
  return `# Written by roadlog (infra/kafka/config.ts).
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${logFile}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
`;
}

/** Log4j 2 configuration for command-line tools: warnings to stderr. */
export function renderToolLog4j2Properties(): string {
  return `status = warn
appender.err.type = Console
appender.err.name = err
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = err
`;
}

export interface JvmOptions {
  heapMb: number;
  log4jProperties: string;
  logDir: string;
}

export function jvmArgs(opts: JvmOptions): string[] {
  return [
    `-Xmx${opts.heapMb}m`,
    `-Xms${Math.min(opts.heapMb, 128)}m`,
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${opts.log4jProperties}`,
    // Log4j would stop before Kafka's last shutdown lines; the file appender flushes per line.
    '-Dlog4j2.shutdownHookEnabled=false',
    `-Dkafka.logs.dir=${opts.logDir}`,
  ];
}
