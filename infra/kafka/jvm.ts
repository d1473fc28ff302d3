/** Running Kafka's Java classes from infra/kafka/lib: the classpath, tools, storage format. */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RoadlogError } from '../../shared/errors/index.js';
import { renderToolLog4j2Properties } from './config.js';

/** Main classes, read from the 4.4.0 jars (see infra/kafka/README.md). */
export const KAFKA_MAIN = 'kafka.Kafka';
export const STORAGE_TOOL_MAIN = 'kafka.tools.StorageTool';
export const PRODUCER_PERFORMANCE_MAIN = 'org.apache.kafka.tools.ProducerPerformance';
export const CONSUMER_PERFORMANCE_MAIN = 'org.apache.kafka.tools.ConsumerPerformance';

/**
 * infra/kafka/lib: `$ROADLOG_KAFKA_LIB`, else found by walking up from this module (which
 * may run from the source tree or from dist/infra/kafka).
 */
export function kafkaLibDir(): string {
  const env = process.env['ROADLOG_KAFKA_LIB'];
  if (env !== undefined && env !== '') return resolve(env);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    for (const candidate of [join(dir, 'lib'), join(dir, 'infra', 'kafka', 'lib')]) {
      if (existsSync(join(candidate, '.stamp'))) return candidate;
    }
    const parent = dirname(dir);
    if (parent === dir) return join(dirname(fileURLToPath(import.meta.url)), 'lib');
    dir = parent;
  }
}

/** The JVM classpath for Kafka (`<lib>/*`); throws ROADLOG_ERR_SERVICE_NOT_INSTALLED when the jars are missing. */
export function kafkaClasspath(): string {
  const lib = kafkaLibDir();
  let jars: string[] = [];
  try {
    jars = readdirSync(lib).filter((f) => f.endsWith('.jar'));
  } catch {
    jars = [];
  }
  if (!jars.some((j) => j.startsWith('kafka_'))) {
    throw new RoadlogError('ROADLOG_ERR_SERVICE_NOT_INSTALLED', `Kafka jars not found in ${lib}: run \`bash infra/kafka/install.sh\` (or \`bash infra/bootstrap.sh\`)`, {
      details: { lib },
    });
  }
  return join(lib, '*');
}

export function javaBin(): string {
  const home = process.env['JAVA_HOME'];
  return home !== undefined && home !== '' ? join(home, 'bin', 'java') : 'java';
}

let toolLog4j: Promise<string> | undefined;
function toolLog4jFile(): Promise<string> {
  toolLog4j ??= (async () => {
    const dir = join(tmpdir(), `roadlog-kafka-tools-${process.getuid?.() ?? 'u'}`);
    await mkdir(dir, { recursive: true });
    const file = join(dir, 'log4j2.properties');
    await writeFile(file, renderToolLog4j2Properties());
    return file;
  })();
  return toolLog4j;
}

export interface RunToolOptions {
  /** Default 120000. On timeout the JVM is killed and ROADLOG_ERR_TIMEOUT thrown. */
  timeoutMs?: number;
  heapMb?: number;
  /** Extra JVM flags (before the main class). */
  jvmArgs?: string[];
  /** Told the JVM's pid once it runs (a benchmark samples its CPU time). */
  onSpawn?: (pid: number) => void;
}

/** Runs a Kafka main class to completion (e.g. ProducerPerformance) and collects its output. */
export async function runKafkaTool(mainClass: string, args: string[], opts: RunToolOptions = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  const classpath = kafkaClasspath();
  const log4j = await toolLog4jFile();
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const jvm = [`-Xmx${opts.heapMb ?? 256}m`, '-XX:+UseSerialGC', '-Djava.awt.headless=true', `-Dlog4j2.configurationFile=${log4j}`, ...(opts.jvmArgs ?? [])];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(javaBin(), [...jvm, '-cp', classpath, mainClass, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new RoadlogError('ROADLOG_ERR_SERVICE_NOT_INSTALLED', `cannot run ${javaBin()}: ${err.message}`, { cause: err }));
    });
    child.once('close', (code, sig) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(new RoadlogError('ROADLOG_ERR_TIMEOUT', `${mainClass} did not finish within ${timeoutMs} ms`, { details: { stdout, stderr } }));
        return;
      }
      resolvePromise({ stdout, stderr, code: code ?? (sig ? 128 : 1) });
    });
  });
}

/**
 * A new cluster id the way Kafka's Uuid.randomUuid makes one: 16 random bytes, base64url
 * without padding, never starting with "-" and never the zero or metadata-topic id.
 */
export function newClusterId(): string {
  for (;;) {
    const bytes = randomBytes(16);
    const id = bytes.toString('base64url');
    const zeroOrOne = bytes.subarray(0, 15).every((b) => b === 0) && (bytes[15] === 0 || bytes[15] === 1);
    if (!id.startsWith('-') && !zeroOrOne) return id;
  }
}

/**
 * `kafka.tools.StorageTool format`: writes meta.properties and the bootstrap checkpoint; with
 * `scramUser`, that user's SCRAM-SHA-512 and SCRAM-SHA-256 credentials go into the bootstrap
 * metadata (`--add-scram`), the KRaft way to have a user before the first start.
 */
export async function formatStorage(clusterId: string, serverProperties: string, scramUser?: { name: string; password: string }): Promise<void> {
  const scram = scramUser === undefined ? [] : ['SCRAM-SHA-512', 'SCRAM-SHA-256'].flatMap((m) => ['--add-scram', `${m}=[name=${scramUser.name},password=${scramUser.password}]`]);
  const res = await runKafkaTool(STORAGE_TOOL_MAIN, ['format', '-t', clusterId, '-c', serverProperties, ...scram], {
    timeoutMs: 60_000,
    // A short-lived JVM: the C1 compiler alone starts it about a third faster.
    jvmArgs: ['-XX:TieredStopAtLevel=1'],
  });
  if (res.code !== 0) {
    const output = (res.stderr || res.stdout).trim();
    // The tool may echo its arguments: the password stays out of the message.
    const shown = scramUser === undefined ? output : output.split(scramUser.password).join('***');
    throw new RoadlogError('ROADLOG_ERR_SERVICE_START_FAILED', `${STORAGE_TOOL_MAIN} format failed (exit ${res.code}) for ${serverProperties}:\n${shown}`);
  }
}
