import { EventEmitter } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isRoadlogError } from '../../../shared/errors/index.js';
import { listen } from '../../../shared/net/index.js';

const open: Server[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await new Promise<void>((resolve) => s.close(() => resolve()));
});

/** A server whose listen() fails with `errno`, as the OS would (EACCES needs a non-root user to happen for real). */
function failingServer(errno: string): Server {
  const fake = new EventEmitter() as EventEmitter & { listen: () => void };
  fake.listen = () => setImmediate(() => fake.emit('error', Object.assign(new Error(`listen ${errno}`), { code: errno, syscall: 'listen' })));
  return fake as unknown as Server;
}

describe('listen', () => {
  it('resolves with the address, and leaves no error listener behind', async () => {
    const server = createHttpServer();
    open.push(server);
    const address = await listen(server, { host: '127.0.0.1', port: 0, setting: 'test.port' });
    expect(address.port).toBeGreaterThan(0);
    expect(server.listenerCount('error')).toBe(0);
  });

  it('a port in use is ROADLOG_ERR_ADDRESS_IN_USE naming the setting and the port', async () => {
    const first = createServer();
    open.push(first);
    const { port } = await listen(first, { host: '127.0.0.1', port: 0, setting: 'test.port' });
    const err = await listen(createServer(), { host: '127.0.0.1', port, setting: 'edge.mqtt.port' }).catch((e: unknown) => e);
    expect(isRoadlogError(err, 'ROADLOG_ERR_ADDRESS_IN_USE'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(new RegExp(`^edge\\.mqtt\\.port ${port}: address already in use on 127\\.0\\.0\\.1`));
    expect((err as { retriable: boolean }).retriable).toBe(true);
  });

  it('a privileged port, a host that is not this machine or does not resolve: ROADLOG_ERR_LISTEN naming the setting', async () => {
    const denied = await listen(failingServer('EACCES'), { host: '0.0.0.0', port: 80, setting: 'edge.http.port' }).catch((e: unknown) => e);
    expect(isRoadlogError(denied, 'ROADLOG_ERR_LISTEN'), String(denied)).toBe(true);
    expect((denied as Error).message).toMatch(/^edge\.http\.port 80: permission denied .*below 1024/);
    // 192.0.2.1 is TEST-NET-1 (RFC 5737): no machine has it.
    const elsewhere = await listen(createServer(), { host: '192.0.2.1', port: 0, setting: 'edge.mqtt.port' }).catch((e: unknown) => e);
    expect(isRoadlogError(elsewhere, 'ROADLOG_ERR_LISTEN'), String(elsewhere)).toBe(true);
    expect((elsewhere as Error).message).toMatch(/^edge\.mqtt\.port 0: host 192\.0\.2\.1 is not an address of this machine/);
    const unresolved = await listen(failingServer('ENOTFOUND'), { host: 'gateway.invalid', port: 1883, setting: 'edge.mqtt.port' }).catch((e: unknown) => e);
    expect(isRoadlogError(unresolved, 'ROADLOG_ERR_LISTEN'), String(unresolved)).toBe(true);
    expect((unresolved as Error).message).toMatch(/^edge\.mqtt\.port 1883: host gateway\.invalid does not resolve/);
  });

  it('passes any other failure on unchanged', async () => {
    const err = await listen(failingServer('EMFILE'), { host: '127.0.0.1', port: 0, setting: 'test.port' }).catch((e: unknown) => e);
    expect(isRoadlogError(err)).toBe(false);
    expect((err as NodeJS.ErrnoException).code).toBe('EMFILE');
  });
});
