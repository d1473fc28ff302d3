/**
 * A single-process service started from a data directory (Mosquitto, InfluxDB): pid file
 * `<dir>/<name>.pid`, its description in `<dir>/<name>.json`, readiness polled with a timeout.
 */
import { existsSync } from 'node:fs';
import { RoadlogError } from '../../shared/errors/index.js';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { assertNotRunning, livePid, spawnDetached, stopByPidFile, terminate, writePidFile } from './process.js';
import { assertPortsFree, waitUntilReady } from './ready.js';

export interface DaemonInfo {
  dir: string;
  port: number;
  pid: number;
  /** Where the service writes its log (its own log file, or its captured stdout/stderr). */
  logFile: string;
  url: string;
}

export interface StartDaemonOptions {
  name: string;
  dir: string;
  port: number;
  /** Every port the service will listen on; each must be free before it starts. Default [port]. */
  ports?: number[];
  url: string;
  command: string;
  args: string[];
  /** Captured stdout and stderr. */
  outFile: string;
  /** The log file named in errors and returned in the info (defaults to outFile). */
  logFile?: string;
  probe: () => Promise<boolean>;
  timeoutMs: number;
}

const pidFileOf = (dir: string, name: string): string => join(dir, `${name}.pid`);
const infoFileOf = (dir: string, name: string): string => join(dir, `${name}.json`);

export async function startDaemon(opts: StartDaemonOptions): Promise<DaemonInfo> {
  const dir = resolve(opts.dir);
  const pidFile = pidFileOf(dir, opts.name);
  await mkdir(dir, { recursive: true });
  await assertNotRunning(opts.name, pidFile, dir);
  await assertPortsFree(opts.name, opts.ports ?? [opts.port]);
  const pid = await spawnDetached({ command: opts.command, args: opts.args, outFile: opts.outFile, cwd: dir });
  await writePidFile(pidFile, pid);
  const logFile = opts.logFile ?? opts.outFile;
  try {
    await waitUntilReady({ name: opts.name, probe: opts.probe, pids: [pid], logFile, timeoutMs: opts.timeoutMs });
  } catch (err) {
    await terminate(pid, 5_000).catch(() => undefined);
    await rm(pidFile, { force: true });
    throw err;
  }
  const info: DaemonInfo = { dir, port: opts.port, pid, logFile, url: opts.url };
  await writeFile(infoFileOf(dir, opts.name), `${JSON.stringify(info, null, 2)}\n`);
  return info;
}

/** Stops the daemon recorded in `dir` (no-op when none runs). Resolves the pid it stopped. */
export async function stopDaemon(name: string, dir: string, timeoutMs = 10_000): Promise<number | undefined> {
  const abs = resolve(dir);
  const { pid } = await stopByPidFile(pidFileOf(abs, name), abs, timeoutMs);
  return pid;
}

export interface DaemonStatus {
  running: boolean;
  pid?: number;
  info?: DaemonInfo;
}

export async function daemonStatus(name: string, dir: string): Promise<DaemonStatus> {
  const abs = resolve(dir);
  const pid = await livePid(pidFileOf(abs, name), abs);
  let info: DaemonInfo | undefined;
  try {
    info = JSON.parse(await readFile(infoFileOf(abs, name), 'utf8')) as DaemonInfo;
  } catch {
    info = undefined;
  }
  const status: DaemonStatus = { running: pid !== undefined };
  if (pid !== undefined) status.pid = pid;
  if (info !== undefined) status.info = info;
  return status;
}

/**
 * Before starting a daemon: its binary must exist (else ROADLOG_ERR_SERVICE_NOT_INSTALLED) and
 * none may already run from `dir` (else ROADLOG_ERR_SERVICE_ALREADY_RUNNING).
 */
export async function assertCanStart(name: string, bin: string, dir: string): Promise<void> {
  if (!existsSync(bin)) {
    throw new RoadlogError('ROADLOG_ERR_SERVICE_NOT_INSTALLED', `${name} not found at ${bin}: run \`bash infra/bootstrap.sh\``);
  }
  const status = await daemonStatus(name, dir);
  if (status.running) {
    throw new RoadlogError('ROADLOG_ERR_SERVICE_ALREADY_RUNNING', `${name} is already running from ${dir} (pid ${status.pid})`);
  }
}
