import { constants } from 'node:fs';
import { mkdtemp, readFile, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeFileLayer, readWholeFile, type FileLayer } from '../../../edge/log/file-layer.js';
import { writeFileAtomic } from '../../../shared/atomic-file/index.js';
import { SimulatedFileLayer } from './support/simulated-file-layer.js';

const tempDirs: string[] = [];
afterAll(async () => {
  for (const d of tempDirs) await rm(d, { recursive: true, force: true });
});

// One contract, two implementations: what the log relies on must hold for both.
const implementations: [string, () => Promise<{ fs: FileLayer; root: string }>][] = [
  ['nodeFileLayer', async () => {
    const root = await mkdtemp(join(tmpdir(), 'roadlog-fl-'));
    tempDirs.push(root);
    return { fs: nodeFileLayer, root };
  }],
  ['SimulatedFileLayer', async () => {
    const fs = new SimulatedFileLayer();
    await fs.mkdir('/root');
    return { fs, root: '/root' };
  }],
];

describe.each(implementations)('FileLayer contract: %s', (_name, setup) => {
  it('appends, reads at positions, truncates and reports sizes', async () => {
    const { fs, root } = await setup();
    const f = await fs.open(join(root, 'a.log'), 'append');
    await f.append(Buffer.from('hello '));
    await f.append(Buffer.from('world'));
    await f.datasync();
    expect(await f.size()).toBe(11);
    expect((await f.read(6, 100)).toString()).toBe('world');
    expect((await f.read(20, 5)).length).toBe(0);
    await f.truncate(5);
    await f.append(Buffer.from('!'));
    expect((await f.read(0, 100)).toString()).toBe('hello!');
    await f.close();
    expect(await fs.stat(join(root, 'a.log'))).toEqual({ size: 6 });
    expect(await fs.stat(join(root, 'missing'))).toBeUndefined();
  });

  it('reopens in append mode at the end, and refuses create-new on an existing file', async () => {
    const { fs, root } = await setup();
    const p = join(root, 'b');
    await (await fs.open(p, 'create-new')).close();
    await expect(fs.open(p, 'create-new')).rejects.toMatchObject({ code: 'EEXIST' });
    const f = await fs.open(p, 'append');
    await f.append(Buffer.from('x'));
    await f.close();
    const g = await fs.open(p, 'append');
    await g.append(Buffer.from('y'));
    await g.close();
    expect((await readWholeFile(fs, p))?.toString()).toBe('xy');
    await expect(fs.open(join(root, 'nope'), 'read')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('makes directories, lists, renames, unlinks and fsyncs directories', async () => {
    const { fs, root } = await setup();
    const dir = join(root, 'x', 'y');
    await fs.mkdir(dir);
    await fs.mkdir(dir);
    await writeFileAtomic(join(dir, 'meta.json'), '{"a":1}', { fs });
    await writeFileAtomic(join(dir, 'meta.json'), '{"a":2}', { fs });
    expect((await fs.readdir(dir)).sort()).toEqual(['meta.json']);
    expect((await readWholeFile(fs, join(dir, 'meta.json')))?.toString()).toBe('{"a":2}');
    await fs.rename(join(dir, 'meta.json'), join(dir, 'm2'));
    await fs.unlink(join(dir, 'm2'));
    await fs.fsyncDir(dir);
    expect(await fs.readdir(dir)).toEqual([]);
    expect(await readWholeFile(fs, join(dir, 'm2'))).toBeUndefined();
    await expect(fs.unlink(join(dir, 'm2'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('durable appends (O_DSYNC)', () => {
  it('nodeFileLayer opens writers with O_DSYNC when asked, and only then', async () => {
    const root = await mkdtemp(join(tmpdir(), 'roadlog-fl-'));
    tempDirs.push(root);
    /** The O_DSYNC bit (octal 010000 on Linux) of the one fd this process has open on `path`. */
    const dsyncBit = async (path: string): Promise<boolean> => {
      for (const fd of await readdir('/proc/self/fd')) {
        const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
        if (target !== path) continue;
        const flags = /^flags:\s+(\d+)$/m.exec(await readFile(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!;
        return (parseInt(flags, 8) & constants.O_DSYNC) !== 0;
      }
      throw new Error(`no fd open on ${path}`);
    };
    const plain = await nodeFileLayer.open(join(root, 'plain.log'), 'append');
    const durable = await nodeFileLayer.open(join(root, 'durable.log'), 'create-new', { dsync: true });
    const read = await nodeFileLayer.open(join(root, 'durable.log'), 'read', { dsync: true });
    try {
      expect([plain.dsync, durable.dsync, read.dsync]).toEqual([false, true, false]);
      expect(await dsyncBit(join(root, 'plain.log'))).toBe(false);
      await durable.append(Buffer.from('abc'));
      expect((await read.read(0, 10)).toString()).toBe('abc');
    } finally {
      await plain.close();
      await read.close();
    }
    expect(await dsyncBit(join(root, 'durable.log'))).toBe(true);
    await durable.close();
  });

  it('SimulatedFileLayer keeps a dsync append across a crash without datasync, and fails it like an fsync', async () => {
    const fs = new SimulatedFileLayer();
    const f = await fs.open('/d', 'append', { dsync: true });
    const g = await fs.open('/p', 'append');
    await fs.fsyncDir('/');
    await f.append(Buffer.from('kept'));
    await g.append(Buffer.from('lost'));
    const after = fs.crash();
    expect(after.contents('/d').toString()).toBe('kept');
    expect(after.contents('/p').toString()).toBe('');
    const h = await after.open('/d', 'append', { dsync: true });
    after.inject = (op) => (op === 'datasync' ? 'EIO' : undefined);
    await expect(h.append(Buffer.from('!'))).rejects.toMatchObject({ code: 'EIO' });
    after.inject = undefined;
    expect(after.crash().contents('/d').toString()).toBe('kept');
  });

  it('SimulatedFileLayer: a dsync append does not make earlier unsynced bytes durable', async () => {
    const fs = new SimulatedFileLayer();
    const plain = await fs.open('/f', 'append');
    await fs.fsyncDir('/');
    await plain.append(Buffer.from('unsynced'));
    const durable = await fs.open('/f', 'append', { dsync: true });
    await durable.append(Buffer.from('+dsync'));
    expect(fs.crash().contents('/f').toString()).toBe('');
  });
});

describe('SimulatedFileLayer power loss', () => {
  it('keeps file bytes only up to the last datasync', async () => {
    const fs = new SimulatedFileLayer();
    await fs.mkdir('/d');
    await fs.fsyncDir('/');
    const f = await fs.open('/d/f', 'append');
    await fs.fsyncDir('/d');
    await f.append(Buffer.from('durable'));
    await f.datasync();
    await f.append(Buffer.from('-lost'));
    const after = fs.crash();
    expect(after.contents('/d/f').toString()).toBe('durable');
    await expect(f.append(Buffer.from('zombie'))).rejects.toMatchObject({ code: 'EIO' });
    await expect(fs.readdir('/d')).rejects.toMatchObject({ code: 'EIO' });
  });

  it('keeps creates, renames and unlinks only after fsyncDir of the parent', async () => {
    const fs = new SimulatedFileLayer();
    await fs.mkdir('/d');
    await fs.fsyncDir('/');
    const f = await fs.open('/d/old', 'append');
    await f.append(Buffer.from('1'));
    await f.datasync();
    await fs.fsyncDir('/d');
    await (await fs.open('/d/unsynced', 'append')).close();
    await fs.rename('/d/old', '/d/new');
    let after = fs.crash();
    expect((await after.readdir('/d')).sort()).toEqual(['old']);
    await after.rename('/d/old', '/d/new');
    await after.fsyncDir('/d');
    await after.unlink('/d/new');
    after = after.crash();
    expect(await after.readdir('/d')).toEqual(['new']);
    expect(after.contents('/d/new').toString()).toBe('1');
  });

  it('keeps the directories mkdir created (it fsyncs their parents), but not a file whose entry was never fsynced', async () => {
    const fs = new SimulatedFileLayer();
    await fs.mkdir('/a/b');
    const f = await fs.open('/a/b/f', 'append');
    await f.append(Buffer.from('x'));
    await f.datasync();
    const after = fs.crash();
    expect(await after.readdir('/')).toEqual(['a']);
    expect(await after.readdir('/a')).toEqual(['b']);
    expect(await after.readdir('/a/b')).toEqual([]);
  });

  it('drops a directory renamed into place without an fsync of the parent', async () => {
    const fs = new SimulatedFileLayer();
    await fs.mkdir('/a');
    const f = await fs.open('/a/tmp', 'append');
    await f.append(Buffer.from('x'));
    await f.datasync();
    await fs.rename('/a/tmp', '/a/final');
    const after = fs.crash();
    expect(await after.readdir('/a')).toEqual([]);
  });

  it('keeps the durable bytes when a truncate below them was not synced', async () => {
    const fs = new SimulatedFileLayer();
    const f = await fs.open('/f', 'append');
    await fs.fsyncDir('/');
    await f.append(Buffer.from('abcdef'));
    await f.datasync();
    await f.truncate(2);
    await f.append(Buffer.from('XY'));
    expect(fs.contents('/f').toString()).toBe('abXY');
    expect(fs.crash().contents('/f').toString()).toBe('abcdef');
  });

  it('with torn crashes keeps a prefix of the unsynced bytes', async () => {
    const fs = new SimulatedFileLayer();
    const f = await fs.open('/f', 'append');
    await fs.fsyncDir('/');
    await f.append(Buffer.from('abc'));
    await f.datasync();
    await f.append(Buffer.from('defgh'));
    expect(fs.crash({ torn: () => 0.5 }).contents('/f').toString()).toBe('abcdef');
  });

  it('injects ENOSPC and EIO, and fills a small disk with a partial write', async () => {
    const fs = new SimulatedFileLayer({ capacityBytes: 10 });
    const f = await fs.open('/f', 'append');
    await expect(f.append(Buffer.alloc(12, 1))).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(await f.size()).toBe(10);
    await f.truncate(4);
    await f.append(Buffer.alloc(6, 2));
    fs.inject = (op, path) => (op === 'datasync' && path === '/f' ? 'EIO' : undefined);
    await expect(f.datasync()).rejects.toMatchObject({ code: 'EIO' });
    fs.inject = undefined;
    fs.capacityBytes = undefined;
    await f.append(Buffer.alloc(100));
    expect(fs.usedBytes()).toBe(110);
  });
});
