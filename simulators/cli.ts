import { fork, type ChildProcess } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { intOption, parseDuration } from '../shared/cli/context.js';

export { parseDuration };
import { asFileError, RoadlogError } from '../shared/errors/index.js';

interface SimFlags {
  vehicles: number;
  seed: number;
  speedup: number;
  duration: string;
  rate: number;
  start: string;
  broker?: string;
  truth?: string;
  messages?: string;
  vehiclesCsv?: string;
  secret?: string;
  idPrefix: string;
  workers: number;
  shard?: string;
  progress: 'auto' | 'json' | 'none';
}

function positive(flag: string, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0 || n > max) throw new RoadlogError('ROADLOG_ERR_USAGE', `${flag}: expected a number above 0 and at most ${max}, got ${JSON.stringify(value)}`);
    return n;
  };
}

/** Creates (empties) an output file before the run, so a path that cannot be written fails now, not after hours of simulating. */
async function createOutputFile(flag: string, path: string | undefined): Promise<void> {
  if (path === undefined) return;
  try {
    await writeFile(path, '');
  } catch (err) {
    throw asFileError(err, flag, path);
  }
}

const clock = (ms: number) => {
  const s = Math.floor(ms / 1000);
  return `${String(Math.floor(s / 3600)).padStart(2, '0')}:${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
};

export function registerSimCommands(program: Command): void {
  program
    .command('sim')
    .description('drive a simulated fleet that publishes telemetry over MQTT (one connection and set of credentials per vehicle) and writes down the truth')
    .option('--vehicles <n>', 'number of vehicles', intOption('--vehicles', 1, 100_000), 10)
    .option('--seed <n>', 'random seed: the same seed gives the same messages and truth', intOption('--seed', 0, 2 ** 32 - 1), 1)
    .option('--speedup <x>', 'device time runs this many times faster than wall time', positive('--speedup', 100_000), 1)
    .option('--duration <d>', 'device time to simulate (90s, 15m, 2h)', '10m')
    .option('--rate <hz>', 'messages per vehicle per second of device time', positive('--rate', 100), 1)
    .option('--start <iso>', 'device time at the start (`now`: the wall clock; seqs continue across runs)', '2026-01-05T06:00:00Z')
    .option('--broker <url>', 'MQTT broker (the edge agent), e.g. mqtt://127.0.0.1:1883; none (or no --broker): a dry run that only generates')
    .option('--truth <file>', 'write the truth file (JSON lines) here: the run, each vehicle\'s totals, faults, link losses and (against a broker) the seqs acknowledged')
    .option('--messages <file>', 'write every message made (JSON lines) here')
    .option('--vehicles-csv <file>', 'write the fleet as a vehicles table (vehicleId,class,depot) for `roadlog vehicles import`')
    .option('--secret <s>', 'vehicle passwords are HMAC-SHA256(secret, vehicleId) in hex (see `roadlog sim credentials`); none: no password')
    .option('--id-prefix <p>', 'vehicle ids are <prefix>-00000, <prefix>-00001, ...', 'SIM')
    .option('--workers <n>', 'worker processes sharing the fleet (for thousands of vehicles)', intOption('--workers', 1, 64), 1)
    .option('--shard <i/n>', 'internal: run only vehicles with index % n === i')
    .option('--progress <mode>', 'auto (a status line on a terminal, a line every 10 s otherwise), json, none', 'auto')
    .action(async (flags: SimFlags) => {
      const durationMs = parseDuration(flags.duration);
      const startTs = flags.start === 'now' ? Math.floor(Date.now() / 1000) * 1000 : Date.parse(flags.start);
      if (!Number.isFinite(startTs)) throw new RoadlogError('ROADLOG_ERR_USAGE', `--start: expected an ISO date-time or now, got ${JSON.stringify(flags.start)}`);
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,40}$/.test(flags.idPrefix)) throw new RoadlogError('ROADLOG_ERR_USAGE', `--id-prefix: expected 1-41 characters of A-Z a-z 0-9 _ . -, got ${JSON.stringify(flags.idPrefix)}`);
      await createOutputFile('--truth', flags.truth);
      await createOutputFile('--messages', flags.messages);
      const base = { vehicles: flags.vehicles, seed: flags.seed, speedup: flags.speedup, durationMs, rateHz: flags.rate, startTs, startNow: flags.start === 'now', idPrefix: flags.idPrefix };
      const { runFleet, truthLines, writeTruth, fleetVehicles } = await import('./fleet.js');
      if (flags.vehiclesCsv !== undefined && flags.shard === undefined) {
        const { formatVehiclesCsv } = await import('../shared/vehicles/index.js');
        await createOutputFile('--vehicles-csv', flags.vehiclesCsv);
        await writeFile(flags.vehiclesCsv, formatVehiclesCsv(fleetVehicles(base)));
      }
      if (flags.workers > 1 && flags.shard === undefined) {
        await runWorkers(flags, base);
        return;
      }
      let shard: { index: number; count: number } | undefined;
      if (flags.shard !== undefined) {
        const m = /^(\d+)\/(\d+)$/.exec(flags.shard);
        if (m === null || Number(m[1]) >= Number(m[2])) throw new RoadlogError('ROADLOG_ERR_USAGE', `--shard: expected i/n with i < n, got ${JSON.stringify(flags.shard)}`);
        shard = { index: Number(m[1]), count: Number(m[2]) };
      }
      const ac = new AbortController();
      let stopping = false;
      process.once('SIGINT', () => {
        stopping = true;
        ac.abort();
      });
      // `none` (or no --broker): a dry run. Anything else must be an MQTT URL.
      if (flags.broker === 'none') delete flags.broker;
      if (flags.broker !== undefined && !/^(mqtts?|wss?|tcp|ssl):\/\/[^/\s]+/.test(flags.broker)) throw new RoadlogError('ROADLOG_ERR_USAGE', `--broker: an MQTT URL such as mqtt://127.0.0.1:1883, or none for a dry run; got ${JSON.stringify(flags.broker)}`);
      const tty = process.stderr.isTTY === true && flags.progress === 'auto';
      let lastLine = 0;
      let lastAcked = 0;
      let lastAt = Date.now();
      const result = await runFleet({
        ...base,
        ...(flags.broker === undefined ? {} : { broker: flags.broker }),
        ...(flags.secret === undefined ? {} : { secret: flags.secret }),
        ...(flags.messages === undefined ? {} : { messagesFile: flags.messages }),
        ...(shard === undefined ? {} : { shard }),
        onProgress: (p) => {
          if (flags.progress === 'none') return;
          if (flags.progress === 'json') {
            process.stdout.write(`${JSON.stringify({ progress: p })}\n`);
            return;
          }
          const now = Date.now();
          const rate = ((p.acked - lastAcked) * 1000) / Math.max(1, now - lastAt);
          lastAcked = p.acked;
          lastAt = now;
          const line = `sim ${clock(durationMs - (p.endTs - p.deviceTs))} of ${clock(durationMs)} device time | ${p.connected}/${p.vehicles} connected | ${rate.toFixed(0)} msg/s acked | made ${p.made}, acked ${p.acked} | reconnects ${p.reconnects} | backlog ${p.backlog}${p.dropped > 0 ? ` | dropped ${p.dropped}` : ''}`;
          if (tty) process.stderr.write(`\r${line.padEnd(120)}`);
          else if (now - lastLine >= 10_000) {
            lastLine = now;
            process.stderr.write(`${line}\n`);
          }
        },
        signal: ac.signal,
      });
      if (tty) process.stderr.write('\n');
      if (flags.truth !== undefined) await writeTruth(flags.truth, truthLines(base, result.truth, shard === undefined || shard.index === 0, flags.broker === undefined ? undefined : result.ackedSeqs, flags.broker === undefined ? undefined : result.disconnected));
      const summary = { vehicles: result.vehicles, made: result.made, sent: result.sent, acked: result.acked, reconnects: result.reconnects, dropped: result.dropped, unsent: result.backlog, wallSeconds: Math.round(result.wallMs / 100) / 10, stoppedEarly: stopping };
      if (flags.progress === 'json') process.stdout.write(`${JSON.stringify({ summary })}\n`);
      else process.stdout.write(`sim: ${summary.vehicles} vehicles, ${summary.made} messages made, ${summary.acked} acknowledged, ${summary.unsent} unsent, ${summary.dropped} dropped from full buffers, ${summary.reconnects} reconnects, ${summary.wallSeconds} s${stopping ? ' (stopped by Ctrl-C)' : ''}${flags.truth === undefined ? '' : `; truth in ${flags.truth}`}\n`);
    });

  program
    .command('sim-credentials')
    .description('print an edge credentials file for simulated vehicles (use with `roadlog sim --secret`)')
    .requiredOption('--secret <s>', 'the secret `roadlog sim --secret` uses')
    .option('--vehicles <n>', 'number of vehicles', intOption('--vehicles', 1, 100_000), 10)
    .option('--id-prefix <p>', 'vehicle id prefix', 'SIM')
    .action(async (flags: { secret: string; vehicles: number; idPrefix: string }) => {
      const { hashSecret } = await import('../shared/credentials/index.js');
      const { vehicleIdOf, vehiclePassword } = await import('./fleet.js');
      process.stdout.write('# roadlog vehicle credentials (simulated fleet): vehicleId: scrypt$N$r$p$salt$hash\n');
      for (let i = 0; i < flags.vehicles; i++) {
        const id = vehicleIdOf(flags.idPrefix, i);
        process.stdout.write(`${id}: ${await hashSecret(vehiclePassword(flags.secret, id))}\n`);
      }
    });
}

/** Forks `--workers` processes, each running its shard; merges their progress and truth files. */
async function runWorkers(flags: SimFlags, base: { vehicles: number; seed: number; startTs: number; startNow: boolean; durationMs: number; rateHz: number; idPrefix: string }): Promise<void> {
  const cli = process.argv[1]!;
  // Each worker gets its own truth and messages file (merged below), and the start time resolved here; `now` stays `now` (each worker's device time is the wall clock once its vehicles are connected).
  const own = new Set(['--workers', '--progress', '--truth', '--messages', '--start']);
  const args = process.argv.slice(2).filter((a, i, all) => !(own.has(a) || own.has(all[i - 1] ?? '') || [...own].some((o) => a.startsWith(`${o}=`))));
  args.push('--start', base.startNow ? 'now' : new Date(base.startTs).toISOString());
  // Ctrl-C reaches the workers too (one process group): they stop and write their parts; this process waits and merges.
  let interrupted = false;
  process.on('SIGINT', () => {
    interrupted = true;
  });
  const totals = new Map<number, { made: number; acked: number; connected: number; vehicles: number; deviceTs: number; endTs: number }>();
  const summaries: { made: number; acked: number; dropped: number; reconnects: number; unsent: number }[] = [];
  const started = Date.now();
  let lastLine = 0;
  const children: ChildProcess[] = [];
  let failure: RoadlogError | undefined;
  // The first worker to fail stops the others (they send what is buffered and write their parts, as on Ctrl-C).
  const fail = (err: RoadlogError): void => {
    failure ??= err;
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGINT');
  };
  await Promise.all(
    Array.from({ length: flags.workers }, (_, i) => new Promise<void>((resolve) => {
      const child = fork(cli, [...args, '--shard', `${i}/${flags.workers}`, '--progress', 'json', ...(flags.truth === undefined ? [] : ['--truth', `${flags.truth}.part${i}`]), ...(flags.messages === undefined ? [] : ['--messages', `${flags.messages}.part${i}`])], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
      children.push(child);
      let buf = '';
      child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          try {
            const msg = JSON.parse(line) as { progress?: { made: number; acked: number; connected: number; vehicles: number; deviceTs: number; endTs: number }; summary?: (typeof summaries)[number] };
            if (msg.progress !== undefined) totals.set(i, msg.progress);
            if (msg.summary !== undefined) summaries.push(msg.summary);
          } catch {
            // not ours
          }
        }
        if (flags.progress !== 'none' && Date.now() - lastLine > 2_000) {
          lastLine = Date.now();
          const t = [...totals.values()];
          const sum = (k: 'made' | 'acked' | 'connected' | 'vehicles') => t.reduce((n, x) => n + x[k], 0);
          process.stderr.write(`sim (${flags.workers} workers) device ${clock(Math.min(...t.map((x) => base.durationMs - (x.endTs - x.deviceTs))))} | ${sum('connected')}/${sum('vehicles')} connected | made ${sum('made')}, acked ${sum('acked')}\n`);
        }
      });
      const worker = `sim worker ${i} of ${flags.workers} (vehicles with index % ${flags.workers} = ${i})`;
      child.once('error', (err) => {
        fail(new RoadlogError('ROADLOG_ERR_SIMULATOR_WORKER', `${worker} could not run: ${err.message}`, { cause: err }));
        resolve();
      });
      child.once('exit', (code, signal) => {
        if (code !== 0 && !(interrupted && signal === 'SIGINT')) {
          const how = signal === null ? `exited with status ${String(code)} (its own error is above)` : `was killed by ${signal}`;
          fail(new RoadlogError('ROADLOG_ERR_SIMULATOR_WORKER', `${worker} ${how}; the other workers were stopped`, { details: { worker: i, code, signal } }));
        }
        resolve();
      });
    })),
  );
  if (failure !== undefined) throw failure;
  if (flags.truth !== undefined) {
    const lines: string[] = [];
    for (let i = 0; i < flags.workers; i++) {
      const part = `${flags.truth}.part${i}`;
      lines.push(...(await readFile(part, 'utf8')).split('\n').filter((l) => l !== ''));
      await rm(part, { force: true });
    }
    const run = lines.filter((l) => l.startsWith('{"type":"run"'));
    // Vehicle blocks in vehicle order, as a single process writes them.
    const blocks = new Map<string, string[]>();
    for (const l of lines) {
      if (l.startsWith('{"type":"run"')) continue;
      const id = (JSON.parse(l) as { vehicleId: string }).vehicleId;
      blocks.set(id, [...(blocks.get(id) ?? []), l]);
    }
    const { writeTruth } = await import('./fleet.js');
    await writeTruth(flags.truth, [...run.slice(0, 1), ...[...blocks.keys()].sort().flatMap((id) => blocks.get(id)!)]);
  }
  if (flags.messages !== undefined) {
    // Worker by worker (each part in device-time order); one process interleaves vehicles step by step instead.
    const { createWriteStream } = await import('node:fs');
    const out = createWriteStream(flags.messages);
    for (let i = 0; i < flags.workers; i++) {
      const part = `${flags.messages}.part${i}`;
      out.write(await readFile(part));
      await rm(part, { force: true });
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
  const total = (k: keyof (typeof summaries)[number]) => summaries.reduce((n, s) => n + s[k], 0);
  process.stdout.write(`sim: ${base.vehicles} vehicles in ${flags.workers} workers, ${total('made')} messages made, ${total('acked')} acknowledged, ${total('unsent')} unsent, ${total('dropped')} dropped from full buffers, ${total('reconnects')} reconnects, ${((Date.now() - started) / 1000).toFixed(1)} s${interrupted ? ' (stopped by Ctrl-C)' : ''}${flags.truth === undefined ? '' : `; truth in ${flags.truth}`}\n`);
}
