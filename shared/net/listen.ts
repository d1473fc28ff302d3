import type { AddressInfo, Server } from 'node:net';
import { RoadlogError } from '../errors/index.js';

export interface ListenOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** The config key the port comes from, for the message: `edge.mqtt.port`. */
  setting: string;
}

/**
 * Starts `server` (net, tls, http: any net.Server) listening; resolves with its address once it
 * does. Every roadlog server listens through here, so a port the user cannot have is reported
 * once, the same way, naming the setting:
 *   ROADLOG_ERR_ADDRESS_IN_USE  edge.mqtt.port 1883: address already in use on 0.0.0.0 (...)
 *   ROADLOG_ERR_LISTEN          EACCES (a port below 1024), EADDRNOTAVAIL (a host that is not
 *                               this machine's), ENOTFOUND (a host name that does not resolve)
 * Other failures are rejected unchanged.
 */
export async function listen(server: Server, options: ListenOptions): Promise<AddressInfo> {
  const { host, port, setting } = options;
  await new Promise<void>((resolve, reject) => {
    const failed = (err: Error): void => reject(listenError(err, options));
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error(`${setting}: server listens on ${String(address)}, expected a TCP address`);
  return address;
}

function listenError(err: Error, { host, port, setting }: ListenOptions): Error {
  const errno = (err as NodeJS.ErrnoException).code;
  const at = `${setting} ${port}`;
  const details = { setting, host, port, errno };
  switch (errno) {
    case 'EADDRINUSE':
      return new RoadlogError('ROADLOG_ERR_ADDRESS_IN_USE', `${at}: address already in use on ${host} (another process listens there: stop it, or choose another port)`, { cause: err, details });
    case 'EACCES':
      return new RoadlogError('ROADLOG_ERR_LISTEN', `${at}: permission denied on ${host} (ports below 1024 need root or CAP_NET_BIND_SERVICE: choose a port from 1024)`, { cause: err, details });
    case 'EADDRNOTAVAIL':
      return new RoadlogError('ROADLOG_ERR_LISTEN', `${at}: host ${host} is not an address of this machine (0.0.0.0 listens on all of them)`, { cause: err, details });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new RoadlogError('ROADLOG_ERR_LISTEN', `${at}: host ${host} does not resolve to an address (${errno})`, { cause: err, details });
    default:
      return err;
  }
}
