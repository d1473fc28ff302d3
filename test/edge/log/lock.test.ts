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

  it('takes over a lock taken before a reboot even if its pid now belongs to a live process', async () => {
    const fs = new SimulatedFileLayer();
    await acquireLock(fs, '/', () => true, 'boot-1');
    const rebooted = fs.crash();
    await expect(acquireLock(rebooted, '/', () => true, 'boot-1')).rejects.toMatchObject({ code: 'ROADLOG_ERR_LOG_LOCKED' });
    expect(await lockHolder(rebooted, '/', () => true, 'boot-2')).toBeUndefined();
    await (await acquireLock(rebooted, '/', () => true, 'boot-2')).release();
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
