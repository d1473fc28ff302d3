import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rng } from './support/random.js';
import { nodeFileLayer } from '../../../edge/log/file-layer.js';
import { acquireLock, lockHolder } from '../../../edge/log/lock.js';
import { SimulatedFileLayer } from './support/simulated-file-layer.js';

describe('log lock', () => {
  it('refuses a second holder while the first is alive, naming its pid', async () => {
    const fs = new SimulatedFileLayer();
    const lock = await acquireLock(fs, '/', { alive: () => true });
    await expect(acquireLock(fs, '/', { alive: () => true })).rejects.toMatchObject({ code: 'ROADLOG_ERR_LOG_LOCKED', details: { pid: process.pid } });
    expect(await lockHolder(fs, '/', () => true)).toBe(process.pid);
    await lock.release();
    await lock.release();
    expect(await lockHolder(fs, '/', () => true)).toBeUndefined();
    await (await acquireLock(fs, '/', { alive: () => true })).release();
  });

  /** A lock file as another process would have left it. */
  async function foreignLock(fs: SimulatedFileLayer, lock: Record<string, unknown>): Promise<void> {
    const f = await fs.open('/.lock', 'create-new');
    await f.append(Buffer.from(JSON.stringify(lock)));
    await f.datasync();
    await f.close();
    await fs.fsyncDir('/');
  }

  it('takes over a lock taken before a reboot even if its pid now belongs to a live process', async () => {
    const fs = new SimulatedFileLayer();
    await foreignLock(fs, { pid: 4242, bootId: 'boot-1' });
    await expect(acquireLock(fs, '/', { alive: () => true, bootId: 'boot-1' })).rejects.toMatchObject({ code: 'ROADLOG_ERR_LOG_LOCKED', details: { pid: 4242 } });
    expect(await lockHolder(fs, '/', () => true, 'boot-2')).toBeUndefined();
    await (await acquireLock(fs, '/', { alive: () => true, bootId: 'boot-2' })).release();
  });

  it('takes over a lock naming our own pid that this process did not take (a container restart: pid 1 again)', async () => {
    const fs = new SimulatedFileLayer();
    await acquireLock(fs, '/', { alive: () => true, bootId: 'boot-1' }); // the previous incarnation, killed with -9:
    const restarted = fs.crash(); // same pid, same boot, new process
    expect(await lockHolder(restarted, '/', () => true, 'boot-1')).toBeUndefined();
    await (await acquireLock(restarted, '/', { alive: () => true, bootId: 'boot-1' })).release();
  });

  it('takes over a lock whose pid was reused by another process (start time differs)', async () => {
    const fs = new SimulatedFileLayer();
    // process 1 (init) is alive, but it did not start at tick 1: the lock's owner is gone.
    await foreignLock(fs, { pid: 1, startTime: 1, bootId: 'b' });
    expect(await lockHolder(fs, '/', () => true, 'b')).toBeUndefined();
    const fs2 = new SimulatedFileLayer();
    await foreignLock(fs2, { pid: 1, bootId: 'b' }); // no start time recorded: the pid decides
    expect(await lockHolder(fs2, '/', () => true, 'b')).toBe(1);
  });

  it('takes over a lock whose process is dead, or whose file is torn', async () => {
    const fs = new SimulatedFileLayer();
    await acquireLock(fs, '/', { alive: () => true });
    const after = fs.crash();
    expect(await lockHolder(after, '/', () => false)).toBeUndefined();
    await (await acquireLock(after, '/', { alive: () => false })).release();
    const f = await after.open('/.lock', 'create-new');
    await f.append(Buffer.from('{"pi'));
    await (await acquireLock(after, '/', { alive: () => true })).release();
  });

  it('a taker whose first write is slow does not make the next taker think its lock file is torn', async () => {
    const fs = new SimulatedFileLayer();
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    let stalled = false;
    fs.stall = (op, path) => {
      if (op !== 'datasync' || stalled || !path.endsWith('.tmp')) return undefined;
      stalled = true;
      return slow;
    };
    const first = acquireLock(fs, '/', { alive: () => true });
    while (!stalled) await new Promise((r) => setImmediate(r));
    const second = await acquireLock(fs, '/', { alive: () => true });
    release();
    await expect(first).rejects.toMatchObject({ code: 'ROADLOG_ERR_LOG_LOCKED' });
    expect(await lockHolder(fs, '/', () => true)).toBe(process.pid);
    await second.release();
    expect(await fs.readdir('/')).toEqual([]);
  });

  /**
   * `n` turns of the event loop: the race below keeps its time in turns rather than timers, so
   * a round's interleaving follows from its seed alone and replays exactly, however busy the
   * machine (the simulated disk and the lock do nothing else asynchronous).
   */
  async function turns(n: number): Promise<void> {
    for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
  }

  /** `npm run test:faults` raises this (ROADLOG_FAULT_SCALE=25: 2,500 rounds). */
  const SCALE = Number(process.env.ROADLOG_FAULT_SCALE ?? 1);
  const ROUNDS = 100 * SCALE;

  it(`of many takers of a stale lock at the same moment, at most one wins (random disk delays, ${ROUNDS} rounds)`, { timeout: 30_000 * SCALE }, async () => {
    let wins = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const random = rng(round); // the round's seed
      const fs = new SimulatedFileLayer();
      await foreignLock(fs, { pid: 999_999, bootId: 'b' }); // dead owner
      // Half the disk's writes and fsyncs take 0-3 turns; a turn stands for a millisecond, as in the lock's backoff.
      fs.stall = () => (random() < 0.5 ? turns(Math.floor(random() * 4)) : undefined);
      const options = { alive: (pid: number) => pid !== 999_999, bootId: 'b', attempts: 3, sleep: (ms: number) => turns(Math.round(ms)), random };
      const takers = await Promise.allSettled(Array.from({ length: 4 }, () => acquireLock(fs, '/', options)));
      const won = takers.filter((t) => t.status === 'fulfilled');
      expect(won.length, `round ${round}: takers that won`).toBeLessThanOrEqual(1);
      for (const t of takers) if (t.status === 'rejected') expect(t.reason, `round ${round}`).toMatchObject({ code: 'ROADLOG_ERR_LOG_LOCKED' });
      wins += won.length;
      fs.stall = undefined;
      for (const t of won) await t.value.release();
      expect((await fs.readdir('/')).filter((n) => n.startsWith('.lock')), `round ${round}: lock files left`).toEqual([]);
    }
    expect(wins).toBeGreaterThan(ROUNDS / 2); // collisions back off, but usually someone gets the log
  });

  it('a second open of the same directory under another spelling (relative path) in the same process is refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lock-'));
    try {
      const lock = await acquireLock(nodeFileLayer, dir);
      await expect(acquireLock(nodeFileLayer, relative(process.cwd(), dir))).rejects.toMatchObject({ code: 'ROADLOG_ERR_LOG_LOCKED' });
      await lock.release();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
