import { chmodSync, chownSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../../edge/ingress/atomic-file.js';
import { LoginGate } from '../../../edge/ingress/credentials.js';

describe('writeFileAtomic', () => {
  it('creates a new file 0600 and leaves no temp file behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'atomic-'));
    await writeFileAtomic(join(dir, 'f'), 'one\n');
    expect(readFileSync(join(dir, 'f'), 'utf8')).toBe('one\n');
    expect(statSync(join(dir, 'f')).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['f']);
  });

  it('keeps the mode, and the owner when run as root, of a file it replaces', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'atomic-'));
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
});

describe('LoginGate', () => {
  it('runs at most `limit` tasks at once, in arrival order, and survives a failing task', async () => {
    const gate = new LoginGate(1);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const tasks = Array.from({ length: 6 }, (_, i) =>
      gate
        .run(async () => {
          running += 1;
          most = Math.max(most, running);
          await new Promise((r) => setTimeout(r, 5));
          order.push(i);
          running -= 1;
          if (i === 2) throw new Error('bad password');
          return i;
        })
        .catch(() => -1),
    );
    expect(await Promise.all(tasks)).toEqual([0, 1, -1, 3, 4, 5]);
    expect(most).toBe(1);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(gate.queued).toBe(0);
  });
});
