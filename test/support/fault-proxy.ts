import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy that injects network faults, for tests of clients (the forwarder) against a
 * real server (Kafka). Modes: `pass`; `delay` (each chunk held `delayMs`, order kept);
 * `blackhole` (nothing gets through in either direction while it lasts; connections stay
 * open and the bytes arrive when it ends, as TCP retransmits over a route that comes back).
 * `resetAll()` destroys every connection (an RST to both sides).
 */
export class FaultProxy {
  private current: 'pass' | 'delay' | 'blackhole' = 'pass';
  private reopened: (() => void) | undefined;
  private open: Promise<void> = Promise.resolve();
  delayMs = 0;

  get mode(): 'pass' | 'delay' | 'blackhole' {
    return this.current;
  }

  set mode(m: 'pass' | 'delay' | 'blackhole') {
    if (m === 'blackhole' && this.current !== 'blackhole') this.open = new Promise<void>((r) => (this.reopened = r));
    if (m !== 'blackhole' && this.current === 'blackhole') this.reopened?.();
    this.current = m;
  }
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  connections = 0;

  constructor(private readonly target: { host: string; port: number }) {
    this.server = createServer((client) => this.accept(client));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  private accept(client: Socket): void {
    this.connections++;
    const upstream = connect(this.target);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        this.sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    this.pipe(client, upstream);
    this.pipe(upstream, client);
  }

  private pipe(from: Socket, to: Socket): void {
    let chain = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      if (this.mode === 'blackhole') {
        const open = this.open;
        chain = chain.then(() => open).then(() => void (to.destroyed ? undefined : to.write(chunk)));
        return;
      }
      if (this.mode === 'delay' && this.delayMs > 0) {
        const ms = this.delayMs;
        chain = chain.then(() => new Promise<void>((r) => setTimeout(r, ms))).then(() => void (to.destroyed ? undefined : to.write(chunk)));
      } else {
        chain = chain.then(() => void (to.destroyed ? undefined : to.write(chunk)));
      }
    });
  }

  resetAll(): void {
    for (const s of this.sockets) s.resetAndDestroy();
  }

  async close(): Promise<void> {
    this.mode = 'pass';
    this.resetAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
