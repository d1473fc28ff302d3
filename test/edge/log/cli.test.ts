import { appendFile, mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { registerLogCommands } from '../../../edge/log/cli.js';
import { openLog } from '../../../edge/log/log.js';

const temp: string[] = [];
afterAll(async () => {
  for (const d of temp) await rm(d, { recursive: true, force: true });
});

const OPTIONS = { partitions: 2, segmentBytes: 2048, allowSmallSegments: true, indexIntervalBytes: 256, maxBatchDelayMs: 0 };

async function makeLog(): Promise<string> {
  const dir = join(await mkdtemp(join(tmpdir(), 'roadlog-cli-')), 'log');
  temp.push(dir);
  const log = await openLog(dir, OPTIONS);
  for (let i = 0; i < 60; i++) await log.append({ key: `veh-${i % 3}`, value: JSON.stringify({ seq: i, pad: 'p'.repeat(40) }), critical: i % 20 === 0 });
  await log.append({ key: 'bad', value: Buffer.from([0xff, 0xfe]), lane: 'dead', headers: [{ name: 'reason', value: Buffer.from('not UTF-8') }] });
  const r = await log.openReader('forwarder');
  await r.read({ maxRecords: 10 });
  await r.commit();
  await log.close();
  return dir;
}

async function run(...args: string[]): Promise<string> {
  let out = '';
  const sink = new Writable({ write: (chunk, _enc, cb) => ((out += chunk.toString()), cb()) });
  const program = new Command('roadlog').exitOverride();
  registerLogCommands(program, { out: sink });
  await program.parseAsync(['node', 'roadlog', ...args]);
  return out;
}

describe('roadlog log (CLI)', () => {
  it('inspect shows offsets, sizes, time ranges and the backlog of each cursor', async () => {
    const dir = await makeLog();
    const text = await run('log', 'inspect', dir);
    expect(text).toMatch(/cursors: forwarder/);
    expect(text).toMatch(/backlog:forwarder/);
    const json = JSON.parse(await run('log', 'inspect', dir, '--json')) as { partitionsByLane: { lane: string; endOffset: number; backlog: Record<string, number>; firstTs?: number }[] };
    const rows = json.partitionsByLane;
    expect(rows.length).toBe(6);
    expect(rows.reduce((n, r) => n + r.endOffset, 0)).toBe(61);
    expect(rows.reduce((n, r) => n + (r.backlog.forwarder ?? 0), 0)).toBe(51);
    expect(rows.find((r) => r.lane === 'normal' && r.endOffset > 0)?.firstTs).toEqual(expect.any(Number));
  });

  it('dump prints JSON lines, filtered by lane, partition, from and limit; binary values in base64', async () => {
    const dir = await makeLog();
    const lines = (await run('log', 'dump', dir, '--lane', 'normal', '--partition', '1', '--from', '3', '--limit', '4')).trim().split('\n').map((l) => JSON.parse(l) as { lane: string; partition: number; offset: number; value: string });
    expect(lines.map((l) => [l.lane, l.partition, l.offset])).toEqual([['normal', 1, 3], ['normal', 1, 4], ['normal', 1, 5], ['normal', 1, 6]]);
    expect(JSON.parse(lines[0]!.value)).toMatchObject({ seq: expect.any(Number) });
    const dead = JSON.parse((await run('log', 'dump', dir, '--lane', 'dead')).trim()) as { valueBase64: string; headers: { name: string; value: string }[] };
    expect(dead.valueBase64).toBe(Buffer.from([0xff, 0xfe]).toString('base64'));
    expect(dead.headers).toEqual([{ name: 'reason', value: 'not UTF-8' }]);
    expect((await run('log', 'dump', dir)).trim().split('\n').length).toBe(61);
    await expect(run('log', 'dump', dir, '--partition', '7')).rejects.toThrow(/--partition: this log has partitions 0 to 1/);
    await expect(run('log', 'dump', dir, '--lane', 'urgent')).rejects.toThrow(/--lane/);
  });

  it('verify passes a clean log; names a torn tail, a damaged record and a missing index; repair fixes tails and indexes', async () => {
    const dir = await makeLog();
    expect(await run('log', 'verify', dir)).toMatch(/61 records in \d+ segments checked; 0 problem/);
    const segsIn = async (p: string) => (await readdir(join(dir, 'normal', p))).filter((n) => n.endsWith('.log')).sort();
    const part = (await segsIn('000')).length > 1 ? '000' : '001';
    const pn = Number(part);
    const pdir = join(dir, 'normal', part);
    const segs = await segsIn(part);
    expect(segs.length).toBeGreaterThan(1);
    await appendFile(join(pdir, segs.at(-1)!), Buffer.from('torn write'));
    await unlink(join(pdir, segs[0]!.replace('.log', '.index')));
    const sealed = join(pdir, segs[0]!);
    const bytes = await readFile(sealed);
    bytes[60]! ^= 0x10;
    await writeFile(sealed, bytes);
    const err = await run('log', 'verify', dir).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ROADLOG_ERR_LOG_CORRUPT' });
    const report = await (async () => {
      let out = '';
      const sink = new Writable({ write: (c, _e, cb) => ((out += c.toString()), cb()) });
      const program = new Command('roadlog').exitOverride();
      registerLogCommands(program, { out: sink });
      await program.parseAsync(['node', 'roadlog', 'log', 'verify', dir]).catch(() => undefined);
      return out;
    })();
    expect(report).toMatch(new RegExp(`torn-tail\\tnormal/${pn}\\t.*${segs.at(-1)}`));
    expect(report).toMatch(new RegExp(`corrupt-records\\tnormal/${pn}\\t.*${segs[0]}\\toffsets 0\\.\\.0 damaged`));
    expect(report).toMatch(/index-missing/);
    const repaired = await run('log', 'repair', dir);
    expect(repaired).toMatch(/cut 10 bytes of torn tails/);
    expect(repaired).toMatch(/damaged \(kept, skipped by readers\): normal\/[01] offsets 0\.\.0/);
    const after = await run('log', 'verify', dir).catch((e: unknown) => e);
    expect(after).toMatchObject({ code: 'ROADLOG_ERR_LOG_CORRUPT' }); // the damaged record stays damaged
    const log = await openLog(dir, OPTIONS);
    await log.close();
  });

  it('refuses while an agent holds the lock, naming its pid', async () => {
    const dir = await makeLog();
    const log = await openLog(dir, OPTIONS);
    for (const cmd of ['inspect', 'verify', 'repair', 'dump']) {
      await expect(run('log', cmd, dir)).rejects.toMatchObject({ code: 'ROADLOG_ERR_LOG_LOCKED', message: expect.stringContaining(String(process.pid)) });
    }
    await log.close();
    await expect(run('log', 'inspect', join(dir, 'nope'))).rejects.toMatchObject({ code: 'ROADLOG_ERR_LOG_NOT_FOUND' });
  });
});
