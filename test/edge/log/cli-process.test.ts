import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openLog } from '../../../edge/log/log.js';
import { runCli } from '../../support/cli.js';

// The built `roadlog` binary, as a user runs it: exit codes and the one-line error format.
const temp: string[] = [];
afterAll(async () => {
  for (const d of temp) await rm(d, { recursive: true, force: true });
});

describe('roadlog log (built CLI)', () => {
  it('inspects, dumps and verifies a stopped log, and refuses with exit 1 and the code while an agent holds it', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'roadlog-cli-proc-')), 'log');
    temp.push(dir);
    const log = await openLog(dir, { partitions: 2 });
    await log.append({ key: 'veh-1', value: '{"seq":1}' });
    const locked = await runCli(['log', 'inspect', dir]);
    expect(locked.code).toBe(1);
    expect(locked.stderr).toMatch(new RegExp(`^roadlog: ROADLOG_ERR_LOG_LOCKED .*process ${process.pid}`));
    await log.close();
    const dump = await runCli(['log', 'dump', dir]);
    expect(dump.code).toBe(0);
    expect(JSON.parse(dump.stdout.trim())).toMatchObject({ lane: 'normal', offset: 0, key: 'veh-1', value: '{"seq":1}' });
    expect((await runCli(['log', 'verify', dir])).stdout).toMatch(/1 records in 6 segments checked; 0 problem/);
    const bad = await runCli(['log', 'dump', dir, '--limit', 'lots']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/ROADLOG_ERR_USAGE --limit: expected an integer/);
  });

  it("takes the agent's data directory (the one given to `edge start --data-dir`) as well as its log/; anything else is ROADLOG_ERR_LOG_NOT_FOUND", async () => {
    const data = await mkdtemp(join(tmpdir(), 'roadlog-cli-data-'));
    temp.push(data);
    const log = await openLog(join(data, 'log'), { partitions: 2 });
    await log.append({ key: 'veh-1', value: '{"seq":1}' });
    const locked = await runCli(['log', 'verify', data]);
    expect(locked.code).toBe(1);
    expect(locked.stderr).toMatch(new RegExp(`^roadlog: ROADLOG_ERR_LOG_LOCKED ${join(data, 'log')} .*process ${process.pid}`));
    await log.close();
    const inspect = await runCli(['log', 'inspect', data]);
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(inspect.stdout).toMatch(new RegExp(`^${join(data, 'log')}: 2 partitions per lane`));
    expect(JSON.parse((await runCli(['log', 'dump', data])).stdout.trim())).toMatchObject({ lane: 'normal', offset: 0, key: 'veh-1' });
    expect((await runCli(['log', 'verify', data])).stdout).toMatch(/1 records in 6 segments checked; 0 problem/);
    expect((await runCli(['log', 'repair', data])).code).toBe(0);
    expect((await runCli(['log', 'inspect', join(data, 'log')])).code).toBe(0); // the log directory itself still works

    for (const [dir, what] of [[join(data, 'log', 'normal'), 'holds no edge log'], [join(data, 'nope'), 'does not exist']] as const) {
      const r = await runCli(['log', 'inspect', dir]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`roadlog: ROADLOG_ERR_LOG_NOT_FOUND ${dir} ${what}: expected an edge agent's data directory (edge.dataDir, holding log/meta.json) or its log directory (holding meta.json)\n`);
    }
  });
});
