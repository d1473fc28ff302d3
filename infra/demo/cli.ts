import { join } from 'node:path';
import type { Command } from 'commander';
import { intOption, parseDuration } from '../../shared/cli/context.js';
import { RoadlogError } from '../../shared/errors/index.js';
import { roadlogHome } from '../../shared/home/index.js';

interface DemoFlags {
  nodes: string;
  vehicles: number;
  speedup: number;
  duration: string;
  port: number;
  dir?: string;
  keep?: boolean;
  live: boolean;
  outage?: string[];
  outageAfter: string;
}

/** `roadlog demo` (`npm start`): the whole pipeline on this machine until Ctrl-C. */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('the whole pipeline on this machine (Kafka, InfluxDB, two gateways, hot and cold paths, the InfluxDB sink, the console, a simulated fleet) until Ctrl-C; `npm start` runs it')
    .option('--nodes <n>', 'Kafka nodes: 1 or 3', '1')
    .option('--vehicles <n>', 'simulated vehicles, half behind each gateway', intOption('--vehicles', 2, 100_000), 200)
    .option('--speedup <x>', 'device time runs this many times faster than wall time', (v: string) => Number(v), 5)
    .option('--duration <d>', 'device time of one round of driving (faults fall within each round); then the fleet drives another', '1h')
    .option('--port <port>', "the console's port (the next free one if it is taken)", intOption('--port', 1, 65_535), 8080)
    .option('--dir <dir>', 'the run folder: logs, data, archive, truth files (default $ROADLOG_HOME/demo)')
    .option('--keep', "resume the last run's data instead of starting fresh")
    .option('--no-live', 'no live status line')
    .option('--outage <gateway duration...>', "cut one gateway's uplink for a while (e.g. --outage gw-1 60s): its backlog, the drain and the late alerts")
    .option('--outage-after <d>', 'wall time after the fleet starts driving before the outage begins', '1m')
    .action(async (flags: DemoFlags) => {
      if (flags.nodes !== '1' && flags.nodes !== '3') throw new RoadlogError('ROADLOG_ERR_USAGE', `--nodes: 1 or 3, got ${JSON.stringify(flags.nodes)}`);
      if (!(flags.speedup > 0 && flags.speedup <= 1000)) throw new RoadlogError('ROADLOG_ERR_USAGE', `--speedup: a number above 0, at most 1000, got ${flags.speedup}`);
      let outage: { gateway: string; ms: number; afterMs: number } | undefined;
      if (flags.outage !== undefined) {
        const [gateway, duration, ...rest] = flags.outage;
        if (gateway === undefined || duration === undefined || rest.length > 0 || !['gw-1', 'gw-2'].includes(gateway)) throw new RoadlogError('ROADLOG_ERR_USAGE', `--outage: a gateway (gw-1 or gw-2) and a duration, e.g. --outage gw-1 60s; got ${JSON.stringify(flags.outage.join(' '))}`);
        outage = { gateway, ms: parseDuration(duration, '--outage'), afterMs: parseDuration(flags.outageAfter, '--outage-after') };
      }
      const { Demo } = await import('./demo.js');
      const { liveLine } = await import('./status.js');
      const dir = flags.dir ?? join(roadlogHome(), 'demo');
      const say = (line: string) => process.stdout.write(`${line}\n`);
      const demo = new Demo({ dir, nodes: Number(flags.nodes) as 1 | 3, vehicles: flags.vehicles, speedup: flags.speedup, duration: flags.duration, port: flags.port, keep: flags.keep === true, cli: process.argv[1]!, say });
      let stopping: Promise<never> | undefined;
      const stop = (why: string, code: number): Promise<never> => {
        stopping ??= (async () => {
          if (timer !== undefined) clearInterval(timer);
          if (process.stdout.isTTY) process.stdout.write('\n');
          say(`${why}: stopping everything, last started first…`);
          const stopped = await demo.stop();
          say(`stopped: ${stopped.join(', ')}`);
          process.exit(code);
        })();
        return stopping;
      };
      let timer: NodeJS.Timeout | undefined;
      process.once('SIGINT', () => void stop('Ctrl-C', 0));
      process.once('SIGTERM', () => void stop('SIGTERM', 0));
      say(`roadlog demo: ${flags.vehicles} vehicles at ${flags.speedup}× behind two gateways; the run folder is ${dir}${flags.keep === true ? ' (kept from the last run)' : ' (fresh)'}`);
      let info: Awaited<ReturnType<typeof demo.start>>;
      try {
        info = await demo.start();
      } catch (err) {
        say(`roadlog demo: ${(err as Error).message}`);
        return stop('start failed', 1);
      }
      say('');
      say(`console   ${info.consoleUrl}   user ${info.user}   password ${info.password}`);
      say(`logs      ${info.logs}`);
      say(`archive   ${info.archive}`);
      say(`kafka     ${info.brokers}   (roadlog topics list --brokers ${info.brokers})`);
      say(`drills    cut a gateway's uplink: curl -X POST ${info.gateways[0]!.http}/drill/uplink?down=60s`);
      say('Ctrl-C stops it all.');
      if (outage !== undefined) {
        const o = outage;
        say(`outage    ${o.gateway}'s uplink goes down in ${Math.round(o.afterMs / 1000)} s, for ${Math.round(o.ms / 1000)} s`);
        setTimeout(() => {
          demo.outage(info, o.gateway, o.ms).then(
            () => say(`${process.stdout.isTTY ? '\n' : ''}outage    ${o.gateway}'s uplink is down for ${Math.round(o.ms / 1000)} s: it keeps acknowledging into its log; watch its backlog on the console's Gateways page`),
            (err: unknown) => say(`outage    could not cut ${o.gateway}'s uplink: ${(err as Error).message}`),
          );
        }, o.afterMs).unref();
      }
      let last = 0;
      const tick = async () => {
        const gone = demo.exited();
        if (gone !== undefined) return void stop(`${gone.name} exited (${gone.code}); see its log in ${info.logs}`, 1);
        const line = await liveLine(info);
        if (process.stdout.isTTY) process.stdout.write(`\r\u001b[2K${line}`);
        else if (Date.now() - last >= 10_000) {
          last = Date.now();
          say(line);
        }
      };
      if (flags.live) timer = setInterval(() => void tick().catch(() => undefined), 2_000);
      await new Promise(() => undefined);
    });
}
