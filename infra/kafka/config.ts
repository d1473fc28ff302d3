/**
 * Rendering of a KRaft node's server.properties and log4j2.properties (pure functions).
 *
 * Every node is a combined controller+broker on 127.0.0.1. One node: all replication
 * factors 1. Three nodes: a 3-voter quorum, replication factor 3 and min ISR 2 for data
 * topics and Kafka's internal topics. A `--secure` cluster adds a SASL_SSL listener for clients
 * on every node; inter-broker and controller traffic stays PLAINTEXT on loopback.
 */
import { join } from 'node:path';

export interface NodePlan {
  nodeId: number;
  port: number;
  controllerPort: number;
  /** The SASL_SSL client listener of a `--secure` cluster. */
  securePort?: number;
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

/** What a node's SASL_SSL listener needs (infra/kafka/certs.ts makes it). */
export interface SecureListenerConfig {
  keystoreFile: string;
  keystorePassword: string;
  username: string;
  password: string;
}

/** SCRAM for the users StorageTool created; PLAIN (only ever over TLS here) for the one user. */
export const SASL_MECHANISMS = ['SCRAM-SHA-512', 'SCRAM-SHA-256', 'PLAIN'] as const;

/**
 * The SASL_SSL listener's settings. The PLAIN user's password sits in its JAAS line, which is
 * why a secure node's server.properties is written with mode 0600.
 */
function secureProperties(secure: SecureListenerConfig): [string, string | number][] {
  const scram = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
  return [
    ['sasl.enabled.mechanisms', SASL_MECHANISMS.join(',')],
    ['listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config', scram],
    ['listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config', scram],
    ['listener.name.sasl_ssl.plain.sasl.jaas.config', `org.apache.kafka.common.security.plain.PlainLoginModule required user_${secure.username}="${secure.password}";`],
    ['listener.name.sasl_ssl.ssl.keystore.type', 'PKCS12'],
    ['listener.name.sasl_ssl.ssl.keystore.location', secure.keystoreFile],
    ['listener.name.sasl_ssl.ssl.keystore.password', secure.keystorePassword],
    ['listener.name.sasl_ssl.ssl.key.password', secure.keystorePassword],
    ['listener.name.sasl_ssl.ssl.client.auth', 'none'],
  ];
}

export function renderServerProperties(node: NodePlan, all: NodePlan[], secure?: SecureListenerConfig): string {
  const paths = nodePaths(node.nodeDir);
  const secured = secure !== undefined && node.securePort !== undefined;
  const listeners = [`PLAINTEXT://${HOST}:${node.port}`, ...(secured ? [`SASL_SSL://${HOST}:${node.securePort}`] : [])];
  const replicated = all.length >= 3;
  const rf = replicated ? 3 : 1;
  const minIsr = replicated ? 2 : 1;
  const props: [string, string | number][] = [
    ['process.roles', 'broker,controller'],
    ['node.id', node.nodeId],
    ['controller.quorum.voters', quorumVoters(all)],
    ['listeners', [...listeners, `CONTROLLER://${HOST}:${node.controllerPort}`].join(',')],
    ['advertised.listeners', listeners.join(',')],
    ['listener.security.protocol.map', `PLAINTEXT:PLAINTEXT,${secured ? 'SASL_SSL:SASL_SSL,' : ''}CONTROLLER:PLAINTEXT`],
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
    ...(secured ? secureProperties(secure) : []),
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
