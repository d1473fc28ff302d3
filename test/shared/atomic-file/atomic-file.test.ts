import { chmodSync, chownSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../../shared/atomic-file/index.js';
import { SimulatedFileLayer, type FaultOp } from '../../edge/log/support/simulated-file-layer.js';

const made: string[] = [];
/** A temp folder, removed after the file's tests. */
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'atomic-'));
  made.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

describe('writeFileAtomic on the real file system', () => {
  it('creates a new file 0600 and leaves no temp file behind', async () => {
    const dir = tempDir();
    await writeFileAtomic(join(dir, 'f'), 'one\n');
    expect(readFileSync(join(dir, 'f'), 'utf8')).toBe('one\n');
    expect(statSync(join(dir, 'f')).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['f']);
  });

  it('keeps the mode, and the owner when run as root, of a file it replaces', async () => {
    const dir = tempDir();
    const f = join(dir, 'f');
    writeFileSync(f, 'old');
    chmodSync(f, 0o640);
    const root = process.getuid?.() === 0;
    if (root) chownSync(f, 65534, 65534);
    await writeFileAtomic(f, 'new');
    const st = statSync(f);
    expect(readFileSync(f, 'utf8')).toBe('new');
    expect(st.mode & 0o777).toBe(0o640);
    if (root) expect([st.uid, st.gid]).toEqual([65534, 65534]);
  });

  it('reuses a longer temp file a crash left behind; exclusive refuses it and leaves both files alone', async () => {
    const dir = tempDir();
    const f = join(dir, 'f');
    writeFileSync(f, 'old');
    writeFileSync(`${f}.tmp`, 'a much longer leftover');
    await expect(writeFileAtomic(f, 'new', { exclusive: true })).rejects.toMatchObject({ code: 'EEXIST' });
    expect(readFileSync(f, 'utf8')).toBe('old');
    expect(readFileSync(`${f}.tmp`, 'utf8')).toBe('a much longer leftover');
    await writeFileAtomic(f, 'new');
    expect(readFileSync(f, 'utf8')).toBe('new');
    expect(readdirSync(dir)).toEqual(['f']);
  });
});

describe('writeFileAtomic on a disk that fails or loses power', () => {
  const setup = async (): Promise<SimulatedFileLayer> => {
    const fs = new SimulatedFileLayer();
    await fs.mkdir('/d');
    await writeFileAtomic('/d/f', 'old', { fs });
    return fs;
  };

  it('a failed write leaves the old content and no temp file', async () => {
    for (const op of ['append', 'truncate', 'datasync'] satisfies FaultOp[]) {
      const fs = await setup();
      fs.inject = (o, path) => (o === op && path === '/d/f.tmp' ? 'EIO' : undefined);
      await expect(writeFileAtomic('/d/f', 'new', { fs }), op).rejects.toMatchObject({ code: 'EIO' });
      fs.inject = undefined;
      expect(fs.contents('/d/f').toString(), op).toBe('old');
      expect(await fs.readdir('/d'), op).toEqual(['f']);
    }
  });

  it('a power cut at any step leaves the old or the new content, never a mix; the new one once it resolved', async () => {
    for (const op of ['append', 'datasync', 'fsyncDir'] as const) {
      const fs = await setup();
      let release!: () => void;
      let stalled = false;
      fs.stall = (o) => (o === op && !stalled ? ((stalled = true), new Promise<void>((r) => (release = r))) : undefined);
      const writing = writeFileAtomic('/d/f', 'new', { fs }).catch(() => undefined);
      while (!stalled) await new Promise((r) => setImmediate(r));
      const after = fs.crash();
      release();
      await writing;
      expect(['old', 'new'], op).toContain(after.contents('/d/f').toString());
    }
    const fs = await setup();
    await writeFileAtomic('/d/f', 'new', { fs });
    expect(fs.crash().contents('/d/f').toString()).toBe('new');
  });

  it('syncDir: false leaves the directory to the caller: a power cut before its fsync may keep the old file, after it the new one', async () => {
    const before = await setup();
    await writeFileAtomic('/d/f', 'new', { fs: before, syncDir: false });
    expect(['old', 'new']).toContain(before.crash().contents('/d/f').toString());
    const after = await setup();
    await writeFileAtomic('/d/f', 'new', { fs: after, syncDir: false });
    await after.fsyncDir('/d');
    expect(after.crash().contents('/d/f').toString()).toBe('new');
  });
});
