import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { freePort } from '../service/index.js';
import { NODE_FLAGS } from '../../shared/heap/young-generation.js';

/**
 * `roadlog demo` (`npm start`): the whole pipeline on one machine, each part its own process
 * running this same CLI, with its log under one run folder:
 *
 *   Kafka (1 or 3 nodes) → topics apply → InfluxDB → the vehicles table → two edge agents
 *   (gw-1, gw-2; per-vehicle credentials) → hot path → archiver → InfluxDB sink → console →
 *   the simulator, one process per gateway, each driving half of the fleet.
 *
 * Stopping goes the other way round: each process gets SIGTERM (SIGKILL after 20 s), then
 * InfluxDB and Kafka are stopped. Nothing here imports the components: they are run as users run
 * them, so the demo is also a check that they work together.
 */
export interface DemoOptions {
  /** The run folder: logs, data, the archive, the truth files. */
  dir: string;
  nodes: 1 | 3;
  vehicles: number;
  speedup: number;
  /** Device time each round of the simulator drives (e.g. `1h`); then it drives again. */
  duration: string;
  /** The console's port; the next free one if it is taken. */
  port: number;
  /** Keep the last run's data (Kafka, the archive, the gateways' logs) instead of starting fresh. */
  keep: boolean;
  /** The CLI's entry point (dist/shared/cli/main.js). */
  cli: string;
  /** One line for people. */
  say(line: string): void;
  /** Device time the fleet starts at: `now` (default) or an ISO time (a run that can be checked against its truth). */
  start?: string;
  /** Rounds of driving (default: until stopped). */
  rounds?: number;
  /** Each round also writes every message made (`messages-<gateway>-<round>.jsonl`). */
  messages?: boolean;
}

export interface DemoInfo {
  consoleUrl: string;
  user: string;
  password: string;
  brokers: string;
  influxUrl: string;
  archive: string;
  logs: string;
  gateways: { id: string; mqtt: string; http: string }[];
  metrics: Record<string, string>;
}

interface Running {
  name: string;
  child: ChildProcess;
  stdout: string;
  log: WriteStream;
  args: string[];
  ready: RegExp | undefined;
  /** Killed and started again by `restart` or by the supervisor (a newer entry runs in its place). */
  replaced: boolean;
  /** Started again when it fails (once it has been ready; a part started again is from the first). */
  supervised: boolean;
}

/** As systemd's Restart=on-failure with StartLimitBurst: a part that fails is started again, at most 5 times in 5 minutes, backing off from 1 s. */
const RESTARTS = { burst: 5, windowMs: 300_000, firstDelayMs: 1_000 };

const STOP_TIMEOUT_MS = 20_000;

export class Demo {
  private readonly running: Running[] = [];
  private readonly services: { name: string; stop: () => Promise<void> }[] = [];
  private readonly env: NodeJS.ProcessEnv;
  private readonly logs: string;

  constructor(private readonly o: DemoOptions) {
    this.logs = join(o.dir, 'logs');
    // Its own ROADLOG_HOME: the demo never reads or records the user's last cluster.
    this.env = { ...process.env, ROADLOG_HOME: join(o.dir, 'home'), ROADLOG_LOG_LEVEL: process.env.ROADLOG_LOG_LEVEL ?? 'info' };
  }

  async start(): Promise<DemoInfo> {
    const o = this.o;
    if (!o.keep) await rm(o.dir, { recursive: true, force: true });
    await mkdir(this.logs, { recursive: true });
    await mkdir(join(o.dir, 'home'), { recursive: true });

    const brokers = lastLine(await this.run('kafka', ['kafka', 'start', '--dir', join(o.dir, 'kafka'), '--nodes', String(o.nodes)]));
    this.services.push({ name: `Kafka (${o.nodes} node${o.nodes > 1 ? 's' : ''})`, stop: () => this.run('kafka-stop', ['kafka', 'stop', '--dir', join(o.dir, 'kafka')]).then(() => undefined) });
    o.say(`kafka     ${brokers}`);
    this.env.ROADLOG_KAFKA_BROKERS = brokers;
    await this.run('topics', ['topics', 'apply']);
    const influxUrl = lastLine(await this.run('influx', ['influx', 'start', '--dir', join(o.dir, 'influx')]));
    this.services.push({ name: 'InfluxDB', stop: () => this.run('influx-stop', ['influx', 'stop', '--dir', join(o.dir, 'influx')]).then(() => undefined) });
    o.say(`influxdb  ${influxUrl}`);

    // The fleet: its vehicles table in Kafka, and a password per vehicle the gateways check.
    const secret = randomBytes(16).toString('hex');
    await this.run('fleet', ['sim', '--vehicles', String(o.vehicles), '--broker', 'none', '--duration', '1s', '--progress', 'none', '--vehicles-csv', join(o.dir, 'vehicles.csv')]);
    await this.run('vehicles', ['vehicles', 'import', join(o.dir, 'vehicles.csv')]);
    await writeFile(join(o.dir, 'credentials'), await this.run('credentials', ['sim-credentials', '--secret', secret, '--vehicles', String(o.vehicles)]), { mode: 0o600 });

    const gateways: DemoInfo['gateways'] = [];
    for (const id of ['gw-1', 'gw-2']) {
      const config = join(o.dir, `${id}.yaml`);
      // Drills on: `roadlog demo --outage` (or a curl) can cut a gateway's uplink.
      await writeFile(config, `edge:\n  mqtt:\n    credentialsFile: ${JSON.stringify(join(o.dir, 'credentials'))}\n  http:\n    drills: true\n`);
      // Fixed ports (free now), so a gateway started again is where its vehicles and the console look.
      const edge = await this.spawnUntil(id, ['edge', 'start', '--config', config, '--gateway-id', id, '--data-dir', join(o.dir, id), '--mqtt-port', String(await freePort()), '--http-port', String(await freePort())], /^http (\S+)$/m);
      gateways.push({ id, mqtt: /^mqtt (\S+)$/m.exec(edge.stdout)![1]!, http: /^http (\S+)$/m.exec(edge.stdout)![1]! });
      o.say(`${id}      MQTT ${gateways.at(-1)!.mqtt}`);
    }
    const metrics: Record<string, string> = Object.fromEntries(gateways.map((g) => [g.id, g.http]));
    metrics.hot = httpOf(await this.spawnUntil('hot', ['hot', 'start', '--http-port', String(await freePort())], /^http (\S+)$/m));
    const archive = join(o.dir, 'archive');
    // Files every 30 s (the archiver's default is 5 min), so the reports fill in while one watches; a
    // member that died is noticed after 10 s (default 30 s), so a restarted archiver or sink rejoins sooner.
    await writeFile(join(o.dir, 'cold.yaml'), 'cold:\n  flush:\n    maxAgeMs: 30000\n  sessionTimeoutMs: 10000\n');
    await writeFile(join(o.dir, 'influx-sink.yaml'), 'influx:\n  sessionTimeoutMs: 10000\n');
    metrics.cold = httpOf(await this.spawnUntil('cold', ['cold', 'start', '--config', join(o.dir, 'cold.yaml'), '--archive', archive, '--http-port', String(await freePort())], /^http (\S+)$/m));
    metrics.influx = httpOf(await this.spawnUntil('influx-sink', ['influx-sink', 'start', '--config', join(o.dir, 'influx-sink.yaml'), '--url', influxUrl, '--http-port', String(await freePort())], /^http (\S+)$/m));

    const user = 'demo';
    const password = randomBytes(9).toString('base64url');
    await this.run('console-user', ['console', 'passwd', join(o.dir, 'console-users'), user, '--role', 'operator'], `${password}\n`);
    const port = await freePortFrom(o.port);
    if (port !== o.port && o.port !== 0) o.say(`console   port ${o.port} is in use: using ${port}`);
    const c = await this.spawnUntil('console', ['console', '--port', String(port), '--users', join(o.dir, 'console-users'), '--archive', archive, '--influx', influxUrl, '--metrics', Object.values(metrics).map((m) => `${m}/metrics`).join(',')], /^http (\S+)$/m);
    const consoleUrl = httpOf(c);

    for (const [i, g] of gateways.entries()) this.drive(g, i, gateways.length, secret, 1);
    return { consoleUrl, user, password, brokers, influxUrl, archive, logs: this.logs, gateways, metrics };
  }

  /**
   * One gateway's half of the fleet, driving `duration` of device time from now; when it has
   * driven that, it drives again with the next seed (new faults; seqs go on), so the demo never
   * runs dry. Each round writes its own truth file.
   */
  private drive(g: { id: string; mqtt: string }, shard: number, shards: number, secret: string, round: number): void {
    const o = this.o;
    const args = ['sim', '--vehicles', String(o.vehicles), '--seed', String(round), '--shard', `${shard}/${shards}`, '--broker', g.mqtt, '--secret', secret, '--start', o.start ?? 'now', '--speedup', String(o.speedup), '--duration', o.duration, '--truth', join(o.dir, `truth-${g.id}-${round}.jsonl`), '--progress', 'json'];
    if (o.messages === true) args.push('--messages', join(o.dir, `messages-${g.id}-${round}.jsonl`));
    this.driving++;
    void this.spawnUntil(`sim-${g.id}`, args, undefined).then((r) =>
      r.child.once('close', (code) => {
        if (code === 0 && !this.stopping && round < (o.rounds ?? Infinity)) return this.drive(g, shard, shards, secret, round + 1);
        if (--this.driving === 0) this.fleetStopped();
      }),
    );
  }

  private driving = 0;
  private fleetStopped: () => void = () => undefined;
  /** Resolves when every simulator has driven its rounds (or stopped). */
  readonly fleetDone = new Promise<void>((resolve) => (this.fleetStopped = resolve));

  /** The run's truth files and (with `messages`) message files so far. */
  files(kind: 'truth' | 'messages'): string[] {
    return this.running.filter((r) => r.name.startsWith('sim-')).map((r) => r.args[r.args.indexOf(kind === 'truth' ? '--truth' : '--messages') + 1]).filter((f): f is string => f !== undefined && !f.startsWith('--'));
  }

  /** kill -9 (or `signal`) of a part, then starts it again with the same arguments; resolves once it is ready again. */
  async restart(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const r = this.running.find((x) => x.name === name && !x.replaced);
    if (r === undefined) throw new Error(`no part named ${name}`);
    r.replaced = true;
    if (r.child.exitCode === null && r.child.signalCode === null) {
      const closed = new Promise<void>((resolve) => r.child.once('close', () => resolve()));
      r.child.kill(signal);
      await closed;
    }
    r.log.end();
    await this.spawnUntil(name, r.args, r.ready);
  }

  private stopping = false;

  /** Cuts gateway `id`'s uplink for `ms` (its agent's uplink drill); resolves when the cut has begun. */
  async outage(info: DemoInfo, id: string, ms: number): Promise<void> {
    const g = info.gateways.find((x) => x.id === id);
    if (g === undefined) throw new Error(`no gateway ${id} (there are ${info.gateways.map((x) => x.id).join(', ')})`);
    const r = await fetch(`${g.http}/drill/uplink?down=${Math.ceil(ms / 1000)}s`, { method: 'POST', signal: AbortSignal.timeout(5_000) });
    if (!r.ok) throw new Error(`${id} refused the uplink drill: HTTP ${r.status} ${await r.text()}`);
  }

  /** The parts running now (the current incarnation of each), by name and pid. Kafka and InfluxDB run detached: see their dirs' status. */
  processes(): { name: string; pid: number }[] {
    return this.running.filter((r) => !r.replaced && r.child.exitCode === null && r.child.signalCode === null && r.child.pid !== undefined).map((r) => ({ name: r.name, pid: r.child.pid! }));
  }

  /** A process the demo started that has exited on its own (a failure), or undefined. */
  exited(): { name: string; code: number | null } | undefined {
    const r = this.running.find((x) => !x.replaced && x.child.exitCode !== null && !(x.name.startsWith('sim-') && x.child.exitCode === 0));
    return r === undefined ? undefined : { name: r.name, code: r.child.exitCode };
  }

  /** Stops everything in the reverse order of starting; returns what it stopped, in that order. */
  async stop(): Promise<string[]> {
    this.stopping = true;
    const stopped: string[] = [];
    for (const r of [...this.running].reverse()) {
      if (r.child.exitCode === null && r.child.signalCode === null) {
        const done = new Promise<void>((resolve) => r.child.once('close', () => resolve()));
        // A simulator stops on SIGINT (it writes its truth file); the others on SIGTERM.
        r.child.kill(r.name.startsWith('sim-') ? 'SIGINT' : 'SIGTERM');
        const timer = setTimeout(() => r.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await done;
        clearTimeout(timer);
        stopped.push(r.name);
      }
      r.log.end();
    }
    for (const s of [...this.services].reverse()) {
      await s.stop().catch((err: unknown) => this.o.say(`${s.name}: stopping failed: ${(err as Error).message}`));
      stopped.push(s.name);
    }
    return stopped;
  }

  /** Runs a CLI command to its end; its output is logged; a failure throws with the log's tail. */
  private run(name: string, args: string[], input?: string): Promise<string> {
    const log = createWriteStream(join(this.logs, `${name}.log`), { flags: 'a' });
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [...NODE_FLAGS, this.o.cli, ...args], { env: this.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        log.write(d);
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        log.write(d);
      });
      child.stdin.end(input ?? '');
      child.on('error', reject);
      child.on('close', (code) => {
        log.end();
        if (code === 0) resolve(stdout);
        else reject(new Error(`roadlog ${args.slice(0, 2).join(' ')} failed (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')} (log: ${join(this.logs, `${name}.log`)})`));
      });
    });
  }

  /** Starts a long-running CLI command; resolves once its stdout matches `ready` (at once without one). */
  private readonly restarts = new Map<string, number[]>();

  /** A part that failed on its own (not stopped, not killed by `restart`): start it again unless it fails too often. */
  private supervise(r: Running, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping || r.replaced || !r.supervised || r.name.startsWith('sim-') || code === 0) return;
    const recent = (this.restarts.get(r.name) ?? []).filter((t) => Date.now() - t < RESTARTS.windowMs);
    if (recent.length >= RESTARTS.burst) return; // exited() reports it, and the demo stops
    recent.push(Date.now());
    this.restarts.set(r.name, recent);
    r.replaced = true;
    r.log.end();
    const delay = RESTARTS.firstDelayMs * 2 ** (recent.length - 1);
    this.o.say(`${r.name} exited (${code ?? signal}); starting it again in ${delay / 1000} s (${recent.length} of ${RESTARTS.burst} in 5 min; see ${join(this.logs, `${r.name}.log`)})`);
    setTimeout(() => {
      if (!this.stopping) void this.spawnUntil(r.name, r.args, r.ready, true).catch(() => undefined);
    }, delay);
  }

  private spawnUntil(name: string, args: string[], ready: RegExp | undefined, supervised = false): Promise<Running> {
    const log = createWriteStream(join(this.logs, `${name}.log`), { flags: 'a' });
    // Its own process group: Ctrl-C on the terminal reaches the demo only, which stops the parts in order.
    const child = spawn(process.execPath, [...NODE_FLAGS, this.o.cli, ...args], { env: this.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const r: Running = { name, child, stdout: '', log, args, ready, replaced: false, supervised };
    this.running.push(r);
    child.once('close', (code, signal) => this.supervise(r, code, signal));
    child.stdout!.on('data', (d: Buffer) => {
      if (r.stdout.length < 64 * 1024) r.stdout += d.toString();
      log.write(d);
    });
    child.stderr!.on('data', (d: Buffer) => log.write(d));
    if (ready === undefined) return Promise.resolve(r);
    return new Promise((resolve, reject) => {
      const timer = setInterval(() => {
        if (ready.test(r.stdout)) {
          clearInterval(timer);
          r.supervised = true;
          resolve(r);
        } else if (child.exitCode !== null) {
          clearInterval(timer);
          reject(new Error(`${name} exited (${child.exitCode}) before it was ready: see ${join(this.logs, `${name}.log`)}`));
        }
      }, 50);
    });
  }
}

const lastLine = (s: string): string => s.trim().split('\n').at(-1)!.trim();
const httpOf = (r: Running): string => /^http (\S+)$/m.exec(r.stdout)![1]!;

/** `port` if nothing listens on it (on 127.0.0.1), else the next free one; 0: any free one. */
async function freePortFrom(port: number): Promise<number> {
  if (port === 0) return freePort();
  for (let p = port; p < port + 100 && p <= 65_535; p++) {
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(p, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return p;
  }
  return 0;
}
