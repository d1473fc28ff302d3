/**
 * Process plumbing shared by every service roadlog starts (Kafka, Mosquitto, InfluxDB):
 * pid files, detached spawn with output to a log file, liveness, and stop by pid file.
 *
 * A service process is spawned detached (its own process group) so it outlives the CLI
 * that started it. Its pid goes into a pid file in the service's data directory; stop and
 * status only ever act on pids read from such files, and only when the process's command
 * line still names the data directory (a recycled pid is never signalled).
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { RoadlogError } from '../../shared/errors/index.js';

export interface SpawnDetachedOptions {
  command: string;
  args: string[];
  /** stdout and stderr are appended to this file. */
  outFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** Start `command` in its own process group, not waited for; returns its pid. */
export async function spawnDetached(opts: SpawnDetachedOptions): Promise<number> {
  await mkdir(dirname(opts.outFile), { recursive: true });
  const fd = openSync(opts.outFile, 'a');
  try {
    const child = spawn(opts.command, opts.args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', (err) => reject(err));
      child.once('spawn', () => resolve(child.pid as number));
    }).catch((err: unknown) => {
      throw new RoadlogError('ROADLOG_ERR_SERVICE_NOT_INSTALLED', `cannot run ${opts.command}: ${(err as Error).message}`, { cause: err });
    });
    // The child must not keep this process alive; Node still reaps it if it exits first.
    child.unref();
    return pid;
  } finally {
    closeSync(fd);
  }
}

/** True when `pid` names a running (not zombie) process. */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ...": a zombie (Z) or dead (X) process has exited.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return process.platform !== 'linux';
  }
}

/**
 * True when `pid` is alive and its command line contains `marker` (the data directory).
 * Where /proc is missing the marker cannot be checked and liveness alone decides.
 */
export function isServiceProcess(pid: number, marker: string): boolean {
  if (!isAlive(pid)) return false;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    return cmdline.includes(marker);
  } catch {
    return process.platform !== 'linux';
  }
}

export async function writePidFile(file: string, pid: number): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${pid}\n`);
}

/** The pid in `file`, or undefined when the file is missing or not a pid. */
export async function readPidFile(file: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** The live service pid recorded in `pidFile` (see isServiceProcess), else undefined. */
export async function livePid(pidFile: string, marker: string): Promise<number | undefined> {
  const pid = await readPidFile(pidFile);
  return pid !== undefined && isServiceProcess(pid, marker) ? pid : undefined;
}

/** Throws ROADLOG_ERR_SERVICE_ALREADY_RUNNING when `pidFile` names a live service process. */
export async function assertNotRunning(name: string, pidFile: string, marker: string): Promise<void> {
  const pid = await livePid(pidFile, marker);
  if (pid !== undefined) {
    throw new RoadlogError('ROADLOG_ERR_SERVICE_ALREADY_RUNNING', `${name} is already running from ${marker} (pid ${pid}, ${pidFile})`, {
      details: { pid, pidFile },
    });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `pid` is gone; true when it went within `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

/**
 * SIGTERM, wait up to `timeoutMs`, then SIGKILL and wait again.
 * Resolves true when the process had to be killed.
 */
export async function terminate(pid: number, timeoutMs: number): Promise<boolean> {
  if (!isAlive(pid)) return false;
  signal(pid, 'SIGTERM');
  if (await waitForExit(pid, timeoutMs)) return false;
  signal(pid, 'SIGKILL');
  if (!(await waitForExit(pid, 5_000))) {
    throw new RoadlogError('ROADLOG_ERR_TIMEOUT', `pid ${pid} survived SIGKILL for 5 s`);
  }
  return true;
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Stops the service whose pid is in `pidFile` (when it is still ours) and removes the file. */
export async function stopByPidFile(pidFile: string, marker: string, timeoutMs: number): Promise<{ pid?: number; killed: boolean }> {
  const pid = await livePid(pidFile, marker);
  let killed = false;
  if (pid !== undefined) killed = await terminate(pid, timeoutMs);
  await rm(pidFile, { force: true });
  return pid === undefined ? { killed } : { pid, killed };
}
