import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode } from '../../../shared/errors/index.js';
import { runCli, startCli, type CliResult } from '../../support/cli.js';
import { waitFor } from '../../support/kafka.js';

/**
 * Errors a user causes (a port in use, a missing or unwritable path, a simulator worker that
 * dies) reach them from the built `roadlog` binary as a code of their own, a message that names
 * the setting or the path, a non-zero exit, and no stack trace unless --verbose asks for one.
 */
let dir: string;
let occupier: Server;
let takenPort: number;
const env = (): NodeJS.ProcessEnv => ({ ROADLOG_HOME: join(dir, 'home') });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'roadlog-user-errors-'));
  await writeFile(join(dir, 'a-file'), 'not a directory\n');
  occupier = createServer();
  await new Promise<void>((resolve) => occupier.listen(0, '127.0.0.1', resolve));
  takenPort = (occupier.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => occupier.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

/** One line naming the code, the code's own exit status, no "this is a bug", no stack trace. */
function expectUserError(r: CliResult, code: ErrorCode, names: string): void {
  const context = `exit ${String(r.code)}, stderr:\n${r.stderr}`;
  expect(r.code, context).not.toBe(0);
  expect(r.code, context).toBe(ERROR_CODES[code].exitCode);
  expect(r.stderr, context).toMatch(new RegExp(`^roadlog: ${code} .*${escape(names)}`, 'm'));
  expect(r.stderr).not.toContain('ROADLOG_ERR_INTERNAL');
  expect(r.stderr).not.toContain('this is a bug');
  expect(r.stderr, context).not.toMatch(/^\s+at /m);
}

/** With --verbose the same error comes with its stack trace. */
function expectStack(r: CliResult, code: ErrorCode): void {
  expect(r.stderr, r.stderr).toMatch(new RegExp(`^roadlog: ${code} `, 'm'));
  expect(r.stderr, r.stderr).toMatch(/^RoadlogError: .*\n\s+at /m);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** An edge config file: anonymous MQTT on loopback, free ports unless `edge` says otherwise. */
async function edgeConfig(name: string, edge: Record<string, unknown>): Promise<string> {
  const mqtt = { host: '127.0.0.1', port: 0, allowAnonymous: true, ...(edge.mqtt as object | undefined) };
  const config = { log: { level: 'warn' }, edge: { dataDir: join(dir, `data-${name}`), http: { host: '127.0.0.1', port: 0 }, ...edge, mqtt } };
  const file = join(dir, `${name}.json`); // JSON is YAML
  await writeFile(file, JSON.stringify(config));
  return file;
}

const edgeStart = (config: string, ...flags: string[]) => runCli([...flags, 'edge', 'start', '--config', config], { env: env(), timeoutMs: 30_000 });

describe('errors a user causes, from the built CLI', () => {
  it('edge start with its MQTT port taken: ROADLOG_ERR_ADDRESS_IN_USE naming edge.mqtt.port; --verbose adds the stack', async () => {
    const config = await edgeConfig('mqtt-port', { mqtt: { port: takenPort } });
    expectUserError(await edgeStart(config), 'ROADLOG_ERR_ADDRESS_IN_USE', `edge.mqtt.port ${takenPort}: address already in use`);
    expectStack(await edgeStart(config, '--verbose'), 'ROADLOG_ERR_ADDRESS_IN_USE');
  });

  it('edge start with its HTTP or WebSocket port taken names that setting', async () => {
    expectUserError(await edgeStart(await edgeConfig('http-port', { http: { host: '127.0.0.1', port: takenPort } })), 'ROADLOG_ERR_ADDRESS_IN_USE', `edge.http.port ${takenPort}: address already in use`);
    expectUserError(await edgeStart(await edgeConfig('ws-port', { mqtt: { websocket: { port: takenPort } } })), 'ROADLOG_ERR_ADDRESS_IN_USE', `edge.mqtt.websocket.port ${takenPort}: address already in use`);
  });

  it('edge start with its TLS port taken names edge.mqtt.tls.port; a TLS file that is not PEM is ROADLOG_ERR_CONFIG_INVALID', async () => {
    const certFile = join(dir, 'server.crt');
    const keyFile = join(dir, 'server.key');
    await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-keyout', keyFile, '-out', certFile]);
    const taken = await edgeConfig('tls-port', { mqtt: { tls: { port: takenPort, certFile, keyFile } } });
    expectUserError(await edgeStart(taken), 'ROADLOG_ERR_ADDRESS_IN_USE', `edge.mqtt.tls.port ${takenPort}: address already in use`);
    const notPem = join(dir, 'not-pem.crt');
    await writeFile(notPem, 'hello\n');
    const garbled = await edgeConfig('tls-pem', { mqtt: { tls: { port: 0, certFile: notPem, keyFile } } });
    expectUserError(await edgeStart(garbled), 'ROADLOG_ERR_CONFIG_INVALID', `edge.mqtt.tls: ${notPem} and ${keyFile} are not a usable PEM certificate and key`);
  });

  it('edge start on a host that is not this machine: ROADLOG_ERR_LISTEN naming the setting and the host', async () => {
    // 192.0.2.1 is TEST-NET-1 (RFC 5737): never an address of this machine.
    expectUserError(await edgeStart(await edgeConfig('bad-host', { mqtt: { host: '192.0.2.1' } })), 'ROADLOG_ERR_LISTEN', 'edge.mqtt.port 0: host 192.0.2.1 is not an address of this machine');
  });

  it('edge start with a missing TLS file: ROADLOG_ERR_FILE_NOT_FOUND naming the setting and the path', async () => {
    const certFile = join(dir, 'nope', 'server.crt');
    const config = await edgeConfig('tls', { mqtt: { tls: { port: 0, certFile, keyFile: join(dir, 'nope', 'server.key') } } });
    expectUserError(await edgeStart(config), 'ROADLOG_ERR_FILE_NOT_FOUND', `edge.mqtt.tls.certFile ${certFile}: no such file or directory`);
  });

  it('edge start with a data directory that cannot be made: ROADLOG_ERR_FILE_ACCESS naming edge.dataDir', async () => {
    // Under a regular file: refused even to root, who may write anywhere else.
    const dataDir = join(dir, 'a-file', 'data');
    expectUserError(await edgeStart(await edgeConfig('data-dir', { dataDir })), 'ROADLOG_ERR_FILE_ACCESS', `edge.dataDir ${dataDir}: a part of the path is a file`);
  });

  it('schema validate of a missing file: ROADLOG_ERR_FILE_NOT_FOUND naming the path', async () => {
    const file = join(dir, 'no-such-records.jsonl');
    expectUserError(await runCli(['schema', 'validate', file], { env: env() }), 'ROADLOG_ERR_FILE_NOT_FOUND', `schema validate ${file}: no such file or directory`);
  });

  it('edge passwd that cannot read or write its file: FILE_NOT_FOUND / FILE_ACCESS naming the path', async () => {
    const missingDir = join(dir, 'no-such-dir', 'vehicles.passwd');
    expectUserError(await runCli(['edge', 'passwd', missingDir, 'VH-1'], { env: env(), input: 'a good secret\n' }), 'ROADLOG_ERR_FILE_NOT_FOUND', `edge passwd ${missingDir}: no such file or directory`);
    const aDirectory = join(dir, 'passwd-is-a-dir');
    await mkdir(aDirectory);
    expectUserError(await runCli(['edge', 'passwd', aDirectory, 'VH-1'], { env: env(), input: 'a good secret\n' }), 'ROADLOG_ERR_FILE_ACCESS', `edge passwd ${aDirectory}: is a directory`);
  });

  it('sim with an output file it cannot write fails before the run, naming the flag', async () => {
    const truth = join(dir, 'no-such-dir', 'truth.jsonl');
    expectUserError(await runCli(['sim', '--vehicles', '1', '--duration', '1h', '--truth', truth], { env: env() }), 'ROADLOG_ERR_FILE_NOT_FOUND', `--truth ${truth}: no such file or directory`);
  });

  it('a simulator worker that dies: ROADLOG_ERR_SIMULATOR_WORKER naming the worker, and the others are stopped', async () => {
    const sim = startCli(['sim', '--vehicles', '4', '--workers', '2', '--duration', '10h', '--progress', 'none'], { env: env() });
    let workers: number[] = [];
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    try {
      workers = await waitFor(async () => {
        const found = await childrenOf(sim.child.pid!);
        return found.length >= 2 ? found : undefined;
      }, 20_000, 'the two simulator workers');
      expect(workers.length).toBe(2);
      process.kill(workers[0]!, 'SIGKILL');
      exited = await Promise.race([sim.exited, new Promise<undefined>((r) => setTimeout(r, 20_000, undefined))]);
      expect(exited, 'sim did not stop after its worker died').toBeDefined();
    } finally {
      if (exited === undefined) for (const pid of [...workers, sim.child.pid!]) if (await alive(pid)) process.kill(pid, 'SIGKILL');
    }
    expectUserError({ ...exited!, ...sim.output, ms: 0 }, 'ROADLOG_ERR_SIMULATOR_WORKER', 'was killed by SIGKILL; the other workers were stopped');
    expect(await alive(workers[1]!), 'the other worker still runs').toBe(false);
  });

  it('a usage error is RoadlogError ROADLOG_ERR_USAGE: exit 2, no stack, and a stack with --verbose', async () => {
    const r = await runCli(['sim', '--duration', 'soon'], { env: env() });
    expectUserError(r, 'ROADLOG_ERR_USAGE', '--duration: expected e.g. 90s');
    expectStack(await runCli(['--verbose', 'sim', '--duration', 'soon'], { env: env() }), 'ROADLOG_ERR_USAGE');
    // A broker that is not an MQTT URL is a usage error, not a bug; `none` is the dry run its help names.
    expectUserError(await runCli(['sim', '--broker', '127.0.0.1:1883', '--duration', '1s'], { env: env() }), 'ROADLOG_ERR_USAGE', '--broker: an MQTT URL such as mqtt://127.0.0.1:1883, or none for a dry run');
    const dry = await runCli(['sim', '--vehicles', '2', '--broker', 'none', '--duration', '5s', '--progress', 'none'], { env: env() });
    expect(dry.code, dry.stderr).toBe(0);
  });
});

/** Live child processes of `pid` (Linux /proc). */
async function childrenOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    // pid (comm) state ppid ...: comm may hold spaces, so split after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[1]) === pid && fields[0] !== 'Z') out.push(Number(name));
  }
  return out;
}

async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}
