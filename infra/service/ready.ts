/** Readiness: free loopback ports, TCP probes, and polling a probe with a start timeout. */
import { connect, createServer } from 'node:net';
import { readFile } from 'node:fs/promises';
import { RoadlogError } from '../../shared/errors/index.js';
import { isAlive, sleep } from './process.js';

export const LOOPBACK = '127.0.0.1';

/** A port that was free on 127.0.0.1 a moment ago (bind port 0, read it, close). */
export function freePort(host: string = LOOPBACK): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** `count` distinct free ports (all held open together, so they differ). */
export async function freePorts(count: number, host: string = LOOPBACK): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<import('node:net').Server>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen({ host, port: 0, exclusive: true }, () => resolve(server));
    })),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  });
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
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
