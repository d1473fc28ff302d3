import { describe, expect, it } from 'vitest';
import { acquireLock, lockHolder } from '../../../edge/log/lock.js';
import { SimulatedFileLayer } from '../../../edge/log/simulated-file-layer.js';

describe('log lock', () => {
  it('refuses a second holder while the first is alive, naming its pid', async () => {
    const fs = new SimulatedFileLayer();
    const lock = await acquireLock(fs, '/', () => true);
    await expect(acquireLock(fs, '/', () => true)).rejects.toMatchObject({ code: 'ROADLOG_ERR_LOG_LOCKED', details: { pid: process.pid } });
    expect(await lockHolder(fs, '/', () => true)).toBe(process.pid);
    await lock.release();
    await lock.release();
    expect(await lockHolder(fs, '/', () => true)).toBeUndefined();
    await (await acquireLock(fs, '/', () => true)).release();
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
    await expect(acquireLock(fs, '/', () => true, 'boot-1')).rejects.toMatchObject({ code: 'ROADLOG_ERR_LOG_LOCKED', details: { pid: 4242 } });
    expect(await lockHolder(fs, '/', () => true, 'boot-2')).toBeUndefined();
    await (await acquireLock(fs, '/', () => true, 'boot-2')).release();
  });

  it('takes over a lock naming our own pid that this process did not take (a container restart: pid 1 again)', async () => {
    const fs = new SimulatedFileLayer();
    await acquireLock(fs, '/', () => true, 'boot-1'); // the previous incarnation, killed with -9:
    const restarted = fs.crash(); // same pid, same boot, new process
    expect(await lockHolder(restarted, '/', () => true, 'boot-1')).toBeUndefined();
    await (await acquireLock(restarted, '/', () => true, 'boot-1')).release();
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
    await acquireLock(fs, '/', () => true);
    const after = fs.crash();
    expect(await lockHolder(after, '/', () => false)).toBeUndefined();
    await (await acquireLock(after, '/', () => false)).release();
    const f = await after.open('/.lock', 'create-new');
    await f.append(Buffer.from('{"pi'));
    await (await acquireLock(after, '/', () => true)).release();
  });
});
