import { connect, isIP, Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ISocketFactory } from 'kafkajs';
import { RoadlogError } from '../../shared/errors/index.js';

/**
 * An uplink outage on demand, for demos and drills (`edge.http.drills`; `roadlog demo --outage`):
 * every Kafka connection of the agent goes through this socket factory, and `cut(ms)` resets
 * them all and refuses new ones (ENETUNREACH, as with the link down) until the time is over.
 * The agent goes on acknowledging into its log meanwhile; its backlog, its heartbeats stopping
 * and the drain afterwards are what a real outage shows.
 */
export class UplinkDrill {
  private downUntil = 0;
  private readonly sockets = new Set<Socket>();
  cuts = 0;

  constructor(
    private readonly inner?: ISocketFactory,
    private readonly now: () => number = Date.now,
  ) {}

  get down(): boolean {
    return this.now() < this.downUntil;
  }

  /** Cuts the uplink for `ms` from now (a cut already running is extended or shortened to end then). */
  cut(ms: number): { downUntil: string } {
    if (!Number.isFinite(ms) || ms <= 0 || ms > 24 * 3_600_000) throw new RoadlogError('ROADLOG_ERR_USAGE', `uplink cut: expected a duration between 1 ms and 24 h, got ${ms} ms`);
    this.downUntil = this.now() + ms;
    this.cuts++;
    for (const s of this.sockets) s.destroy(netError('ECONNRESET', 'uplink cut by a drill'));
    this.sockets.clear();
    return { downUntil: new Date(this.downUntil).toISOString() };
  }

  /** Ends a cut at once. */
  restore(): void {
    this.downUntil = 0;
  }

  readonly socketFactory: ISocketFactory = (args) => {
    if (this.down) {
      const refused = new Socket();
      process.nextTick(() => refused.destroy(netError('ENETUNREACH', 'uplink down (a drill)')));
      return refused;
    }
    const socket = this.inner?.(args) ?? defaultSocket(args);
    this.sockets.add(socket as Socket);
    socket.once('close', () => this.sockets.delete(socket as Socket));
    return socket;
  };
}

/** kafkajs's own socket factory (TLS with the broker's name when it is not an address; keep-alive). */
function defaultSocket({ host, port, ssl, onConnect }: Parameters<ISocketFactory>[0]): Socket {
  const socket = ssl ? tlsConnect({ host, port, ...(isIP(host) === 0 ? { servername: host } : {}), ...ssl }, onConnect) : connect({ host, port }, onConnect);
  socket.setKeepAlive(true, 60_000);
  return socket;
}

function netError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}
