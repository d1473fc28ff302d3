import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CLI } from '../support/cli.js';
import { formatTable, runCampaign, VICTIMS } from './campaign.js';

/**
 * `npm run test:e2e`: the end-to-end truth campaign at full size (campaign.ts says what it
 * does). Prints the checks as a table, writes it with the machine and the command to
 * test/e2e/results/e2e.md, and exits 1 when a check misses.
 *
 *   npm run test:e2e -- [--vehicles 200] [--minutes 60] [--speedup 5] [--outage-minutes 10] [--dir DIR] [--keep-dir]
 */
const { values: flags } = parseArgs({
  options: {
    vehicles: { type: 'string', default: '200' },
    minutes: { type: 'string', default: '60' },
    speedup: { type: 'string', default: '5' },
    'outage-minutes': { type: 'string', default: '10' },
    dir: { type: 'string' },
    'keep-dir': { type: 'boolean', default: false },
    results: { type: 'string', default: join(import.meta.dirname, 'results', 'e2e.md') },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  process.stdout.write('npm run test:e2e -- [--vehicles 200] [--minutes 60] [--speedup 5] [--outage-minutes 10] [--dir DIR] [--keep-dir] [--results FILE]\n');
  process.exit(0);
}
const num = (name: keyof typeof flags): number => {
  const n = Number(flags[name]);
  if (!Number.isFinite(n) || n < 0) {
    process.stderr.write(`test:e2e: --${name}: expected a number, got ${String(flags[name])}\n`);
    process.exit(2);
  }
  return n;
};
const o = { vehicles: num('vehicles'), deviceMinutes: num('minutes'), speedup: num('speedup'), outageDeviceMinutes: num('outage-minutes') };
const dir = flags.dir ?? (await mkdtemp(join(tmpdir(), 'roadlog-e2e-')));
const command = `npm run test:e2e -- --vehicles ${o.vehicles} --minutes ${o.deviceMinutes} --speedup ${o.speedup} --outage-minutes ${o.outageDeviceMinutes}`;
const started = Date.now();
process.stdout.write(`e2e: ${o.vehicles} vehicles, ${o.deviceMinutes} min of device time at ${o.speedup}× (${((o.deviceMinutes * 60) / o.speedup / 60).toFixed(1)} min of wall time), gw-1's uplink cut for ${o.outageDeviceMinutes} device minutes, kill -9 of ${VICTIMS.join(', ')}; run folder ${dir}\n`);
let result;
try {
  result = await runCampaign({ ...o, dir, cli: CLI, kills: VICTIMS, say: (line) => process.stdout.write(`${line}\n`) });
} catch (err) {
  process.stderr.write(`test:e2e: the campaign could not run: ${(err as Error).stack ?? String(err)}\n(logs: ${join(dir, 'logs')})\n`);
  process.exit(1);
}
const table = formatTable(result.checks);
const minutes = ((Date.now() - started) / 60_000).toFixed(1);
process.stdout.write(`\n${table}\n${result.checks.every((c) => c.ok) ? 'e2e: every check passed' : 'e2e: FAILED'} (${minutes} min)\n`);
const machine = `${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
await mkdir(join(flags.results, '..'), { recursive: true });
await writeFile(flags.results, `# End-to-end truth campaign\n\n${new Date().toISOString().slice(0, 10)} · \`${command}\` · ${machine} · ${minutes} min\n\n${table}\nTimeline (wall seconds from the fleet's start):\n\n${result.timeline.map((t) => `- ${t}`).join('\n')}\n`);
if (!flags['keep-dir'] && flags.dir === undefined && result.checks.every((c) => c.ok)) await rm(dir, { recursive: true, force: true });
process.exit(result.checks.every((c) => c.ok) ? 0 : 1);

