/** Readiness: free loopback ports, TCP probes, and polling a probe with a start timeout. */
import { connect, createServer } from 'node:net';
import { readFile } from 'node:fs/promises';
import { RoadlogError } from '../../shared/errors/index.js';
import { isAlive, sleep } from './process.js';

export const LOOPBACK = '127.0.0.1';

/**
 * A port that was free on 127.0.0.1 a moment ago, below the system's ephemeral range (see
 * servicePortRange).
 */
export async function freePort(host: string = LOOPBACK): Promise<number> {
  return (await freePorts(1, host))[0]!;
}

/**
 * `count` distinct free ports (all held open together, so they differ), picked at random below
 * the ephemeral range the system hands outgoing connections from. A service port inside that
 * range can be taken while the service is down, by a client's outgoing connection or by a
 * client retrying against it connecting to itself (TCP simultaneous open on loopback), and
 * then the service cannot start again on it (seen when a Kafka node was restarted under load).
 */
export async function freePorts(count: number, host: string = LOOPBACK): Promise<number[]> {
  const [low, high] = await servicePortRange();
  const servers: import('node:net').Server[] = [];
  try {
    for (let attempt = 0; servers.length < count; attempt++) {
      // After many taken ports, let the system pick (inside its ephemeral range, as before).
      const port = attempt < 500 ? low + Math.floor(Math.random() * (high - low)) : 0;
      const server = await new Promise<import('node:net').Server | undefined>((resolve, reject) => {
        const s = createServer();
        s.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' || err.code === 'EACCES' ? resolve(undefined) : reject(err)));
        s.listen({ host, port, exclusive: true }, () => resolve(s));
      });
      if (server !== undefined) servers.push(server);
    }
    return servers.map((s) => {
      const a = s.address();
      return typeof a === 'object' && a !== null ? a.port : 0;
    });
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

/** [low, high) for service ports: from 20000 up to the start of net.ipv4.ip_local_port_range (32768 where it cannot be read). */
export async function servicePortRange(): Promise<[number, number]> {
  const text = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '');
  const start = Number(text.trim().split(/\s+/)[0]);
  const high = Number.isInteger(start) && start > 21_000 ? start : 32_768;
  return [Math.min(20_000, high - 1_000), high];
}

/** True when a TCP connection to host:port succeeds within `timeoutMs`. */
export function tcpReady(port: number, host: string = LOOPBACK, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.removeAllListeners();
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Throws ROADLOG_ERR_SERVICE_START_FAILED when something already listens on one of `ports`
 * (a readiness probe would otherwise be answered by that other server).
 */
export async function assertPortsFree(name: string, ports: number[], host: string = LOOPBACK): Promise<void> {
  for (const port of ports) {
    if (await tcpReady(port, host, 500)) {
      throw new RoadlogError('ROADLOG_ERR_SERVICE_START_FAILED', `${name}: port ${host}:${port} is already in use by another process`, { details: { port } });
    }
  }
}

export interface WaitReadyOptions {
  /** Service name for messages, e.g. "kafka node 2". */
  name: string;
  /** Resolves true when the service is ready; exceptions count as "not yet". */
  probe: () => Promise<boolean>;
  /** Processes that must stay alive while waiting. */
  pids: number[];
  /** Named in the error, with its last lines. */
  logFile: string;
  /** The log file of a watched process, when they differ (named when that process exits). */
  logFileOf?: (pid: number) => string | undefined;
  timeoutMs: number;
  intervalMs?: number;
}

/**
 * Polls `probe` until it says ready. Throws ROADLOG_ERR_SERVICE_START_FAILED naming the log
 * file when a watched process exits or the timeout passes.
 */
export async function waitUntilReady(opts: WaitReadyOptions): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 200;
  for (;;) {
    const dead = opts.pids.find((pid) => !isAlive(pid));
    if (dead !== undefined) {
      const logFile = opts.logFileOf?.(dead) ?? opts.logFile;
      throw await startFailed({ ...opts, logFile }, `${opts.name} exited during start (pid ${dead})`);
    }
    let ready = false;
    try {
      ready = await opts.probe();
    } catch {
      ready = false;
    }
    // Ready only counts while every watched process is still alive (not some other server).
    if (ready && opts.pids.every((pid) => isAlive(pid))) return;
    if (Date.now() >= deadline) {
      throw await startFailed(opts, `${opts.name} was not ready within ${opts.timeoutMs} ms`);
    }
    await sleep(interval);
  }
}

async function startFailed(opts: WaitReadyOptions, what: string): Promise<RoadlogError> {
  const tail = await logTail(opts.logFile, 15);
  return new RoadlogError('ROADLOG_ERR_SERVICE_START_FAILED', `${what}; see ${opts.logFile}${tail ? `\n${tail}` : ''}`, {
    details: { logFile: opts.logFile },
  });
}

/** The last `lines` lines of a file, or '' when it cannot be read. */
export async function logTail(file: string, lines: number): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
