/**
 * Mosquitto (Debian package, /usr/sbin/mosquitto) on 127.0.0.1, started from a data
 * directory: mosquitto.conf, persistence, mosquitto.log (its own log) and mosquitto.out
 * (stdout/stderr) all live in `dir`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { LOOPBACK, assertCanStart, daemonStatus, freePort, startDaemon, stopDaemon, tcpReady, type DaemonInfo, type DaemonStatus } from '../service/index.js';

export const MOSQUITTO_BIN = '/usr/sbin/mosquitto';

export interface StartMosquittoOptions {
  dir: string;
  /** 0 or undefined: a free port is picked. */
  port?: number;
  /** Default 15000. */
  startTimeoutMs?: number;
  /** Default process.env.ROADLOG_MOSQUITTO_BIN ?? /usr/sbin/mosquitto. */
  bin?: string;
}

export type MosquittoInfo = DaemonInfo;

/** mosquitto.conf for one loopback listener, anonymous access, persistence in `dir`. */
export function renderMosquittoConf(dir: string, port: number, logFile: string): string {
  return [
    '# Written by roadlog (infra/mosquitto/server.ts); rewritten at every start.',
    `listener ${port} ${LOOPBACK}`,
    'allow_anonymous true',
    'persistence true',
    `persistence_location ${join(dir, 'data')}/`,
    'autosave_interval 60',
    `log_dest file ${logFile}`,
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'connection_messages true',
    'log_timestamp_format %Y-%m-%dT%H:%M:%S',
    // Mosquitto drops root privileges to user "mosquitto" unless told otherwise; stay the
    // user who owns the data directory.
    `user ${userInfo().username}`,
    '',
  ].join('\n');
}

export async function startMosquitto(opts: StartMosquittoOptions): Promise<MosquittoInfo> {
  const dir = resolve(opts.dir);
  const bin = opts.bin ?? process.env['ROADLOG_MOSQUITTO_BIN'] ?? MOSQUITTO_BIN;
  await assertCanStart('mosquitto', bin, dir);
  const port = opts.port !== undefined && opts.port !== 0 ? opts.port : await freePort();
  const logFile = join(dir, 'mosquitto.log');
  const confFile = join(dir, 'mosquitto.conf');
  await mkdir(join(dir, 'data'), { recursive: true });
  await writeFile(confFile, renderMosquittoConf(dir, port, logFile));
  return startDaemon({
    name: 'mosquitto',
    dir,
    port,
    url: `mqtt://${LOOPBACK}:${port}`,
    command: bin,
    args: ['-c', confFile],
    outFile: join(dir, 'mosquitto.out'),
    logFile,
    probe: () => tcpReady(port),
    timeoutMs: opts.startTimeoutMs ?? 15_000,
  });
}

export async function stopMosquitto(dir: string, opts: { timeoutMs?: number } = {}): Promise<void> {
  await stopDaemon('mosquitto', dir, opts.timeoutMs ?? 10_000);
}

export function mosquittoStatus(dir: string): Promise<DaemonStatus> {
  return daemonStatus('mosquitto', dir);
}
