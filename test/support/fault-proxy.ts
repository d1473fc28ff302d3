import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy that injects network faults, for tests of clients (the forwarder) against a
 * real server (Kafka). Modes: `pass`; `delay` (each chunk held `delayMs`, order kept);
 * `blackhole` (nothing gets through in either direction while it lasts; connections stay
 * open and the bytes arrive when it ends, as TCP retransmits over a route that comes back).
 * `resetAll()` destroys every connection (an RST to both sides).
 *
 * Faults on single Kafka requests: with `requestFault` set, the client's bytes are cut into
 * Kafka frames (int32 size, then the request; its api key first: 0 is Produce) and each
 * request is passed, delayed (it and what follows on its connection), dropped with its
 * connection reset before the broker sees it, or passed and its connection reset a moment later
 * (the broker may have written it, its answer is lost: the client must send it again).
 */
export type RequestFault = { kind: 'pass' } | { kind: 'delay'; ms: number } | { kind: 'reset-before' } | { kind: 'reset-after'; ms: number };
export class FaultProxy {
  private current: 'pass' | 'delay' | 'blackhole' = 'pass';
  private reopened: (() => void) | undefined;
  private open: Promise<void> = Promise.resolve();
  delayMs = 0;
  /** Decides each Kafka request's fate (client → server direction only). */
  requestFault: ((apiKey: number) => RequestFault) | undefined;
  readonly requestFaults = { delay: 0, 'reset-before': 0, 'reset-after': 0 };

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
    if (this.requestFault === undefined) this.pipe(client, upstream);
    else this.pipeRequests(client, upstream, this.requestFault);
    this.pipe(upstream, client);
  }

  /** A connection opened while `requestFault` was set keeps it until it closes. */
  private pipeRequests(from: Socket, to: Socket, decide: (apiKey: number) => RequestFault): void {
    let pending = Buffer.alloc(0);
    let chain = Promise.resolve();
    const reset = () => {
      from.resetAndDestroy();
      to.resetAndDestroy();
    };
    from.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        const size = pending.readInt32BE(0);
        const frame = pending.subarray(0, 4 + size);
        pending = pending.subarray(4 + size);
        const fault = decide(frame.readInt16BE(4));
        if (fault.kind !== 'pass') this.requestFaults[fault.kind]++;
        chain = chain.then(async () => {
          if (to.destroyed) return;
          if (fault.kind === 'reset-before') return reset();
          if (fault.kind === 'delay') await new Promise((r) => setTimeout(r, fault.ms));
          if (to.destroyed) return;
          to.write(frame);
          if (fault.kind === 'reset-after') setTimeout(reset, fault.ms);
        });
      }
    });
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
