import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { committedFiles, deleteUncommitted, flushFileName, hourDir, listFlushFiles, writeState } from '../../../cloud/cold/layout.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function put(archive: string, ts: number, topic: string, p: number, start: number, suffix = ''): Promise<void> {
  const dir = join(archive, 'telemetry', hourDir(ts));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, flushFileName(topic, p, start) + suffix), 'x');
}

describe('archive layout: the state file is the commit point', () => {
  it('names files by topic, partition and zero-padded first offset in their device-time hour', () => {
    expect(flushFileName('t.telemetry.v1', 3, 1200)).toBe('t.telemetry.v1+3+00000000000000001200.parquet');
    expect(hourDir(Date.parse('2026-01-05T07:59:59.999Z'))).toBe('date=2026-01-05/hour=07');
  });

  it('counts only flushes below the partition\'s nextOffset; a flush that never committed is deleted on takeover, temp files too', async () => {
    const archive = await mkdtemp(join(tmpdir(), 'roadlog-layout-'));
    dirs.push(archive);
    const h6 = Date.parse('2026-01-05T06:10:00Z');
    const h7 = Date.parse('2026-01-05T07:10:00Z');
    await put(archive, h6, 'T', 0, 0);
    await put(archive, h7, 'T', 0, 0);
    await put(archive, h7, 'T', 0, 100); // renamed, but the crash came before the state file
    await put(archive, h6, 'T', 0, 100, '.tmp');
    await put(archive, h6, 'T', 1, 0); // another partition, no state yet: nothing committed
    await writeState(archive, { v: 1, topic: 'T', partition: 0, nextOffset: 100, rows: 100, envelope: {}, seqs: {}, updatedAt: 0 });
    expect((await committedFiles(archive)).map((f) => [f.date, f.hour, f.partition, f.start])).toEqual([
      ['2026-01-05', 6, 0, 0],
      ['2026-01-05', 7, 0, 0],
    ]);
    expect(await listFlushFiles(archive)).toHaveLength(4);
    expect(await deleteUncommitted(archive, 'T', 0, 100)).toBe(2);
    expect((await readdir(join(archive, 'telemetry', hourDir(h6)))).sort()).toEqual([flushFileName('T', 0, 0), flushFileName('T', 1, 0)]);
    expect(await readdir(join(archive, 'telemetry', hourDir(h7)))).toEqual([flushFileName('T', 0, 0)]);
  });
});
