import { describe, expect, it } from 'vitest';
import { CursorStore } from '../../../edge/log/cursor.js';
import { SimulatedFileLayer } from './support/simulated-file-layer.js';

async function setup() {
  const fs = new SimulatedFileLayer();
  await fs.mkdir('/log/cursors');
  for (const d of ['/', '/log']) await fs.fsyncDir(d);
  return fs;
}

describe('CursorStore', () => {
  it('saves and loads positions, and lists cursors', async () => {
    const fs = await setup();
    const store = new CursorStore(fs, '/log');
    expect(await store.load('forwarder')).toBeUndefined();
    await store.save('forwarder', { 'normal/0': 5, 'critical/3': 2 });
    await store.save('audit', {});
    expect(await store.load('forwarder')).toEqual({ 'normal/0': 5, 'critical/3': 2 });
    expect(await store.names()).toEqual(['audit', 'forwarder']);
  });

  it('survives a crash at any point of a commit as either the old or the new positions', async () => {
    for (let failAt = 0; failAt < 8; failAt++) {
      let fs = await setup();
      await new CursorStore(fs, '/log').save('f', { 'normal/0': 1 });
      let calls = 0;
      fs.inject = (op) => (op === 'append' || op === 'datasync' || op === 'rename' || op === 'fsyncDir' || op === 'open' || op === 'truncate' ? (calls++ === failAt ? 'EIO' : undefined) : undefined);
      await new CursorStore(fs, '/log').save('f', { 'normal/0': 2 }).catch(() => undefined);
      fs = fs.crash();
      const got = await new CursorStore(fs, '/log').load('f');
      expect([1, 2]).toContain(got?.['normal/0']);
    }
  });

  it('is durable once save resolved', async () => {
    const fs = await setup();
    await new CursorStore(fs, '/log').save('f', { 'normal/0': 9 });
    expect(await new CursorStore(fs.crash(), '/log').load('f')).toEqual({ 'normal/0': 9 });
  });

  it('overlapping saves of one cursor land in call order, the last one stays', async () => {
    const fs = await setup();
    const store = new CursorStore(fs, '/log');
    fs.stall = (op) => (op === 'datasync' && Math.random() < 0.5 ? new Promise((r) => setTimeout(r, Math.random() * 5)) : undefined);
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.save('f', { 'normal/0': i })));
    fs.stall = undefined;
    expect(await store.load('f')).toEqual({ 'normal/0': 19 });
    expect(await new CursorStore(fs.crash(), '/log').load('f')).toEqual({ 'normal/0': 19 });
  });

  it('refuses bad names and reports a damaged file as corrupt', async () => {
    const fs = await setup();
    const store = new CursorStore(fs, '/log');
    await expect(store.save('../x', {})).rejects.toMatchObject({ code: 'ROADLOG_ERR_USAGE' });
    const f = await fs.open('/log/cursors/bad.json', 'append');
    await f.append(Buffer.from('{"version":1,"positions":{"normal/0":-1}}'));
    await expect(store.load('bad')).rejects.toMatchObject({ code: 'ROADLOG_ERR_LOG_CORRUPT' });
  });
});
