import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as netConnect, isIP } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { ISocketFactory, SASLOptions } from 'kafkajs';
import { asFileError, RoadlogError } from '../errors/index.js';
import type { KafkaClientOptions } from './options.js';

/**
 * `kafka.tls` / `kafka.ssl` / `kafka.sasl` as kafkajs settings. The files are read here, at
 * client creation, so a missing or malformed one stops the program naming its setting:
 *   kafka.tls.caFile /etc/roadlog/ca.pem: no such file or directory (ENOENT)
 *   kafka.tls.keyFile /etc/roadlog/client.key: not a PEM private key
 * Messages name files, never their contents, and never the password.
 */
export interface KafkaSecurity {
  /** kafkajs `ssl`: false, true (system CAs), or Node TLS options. */
  ssl: boolean | ConnectionOptions;
  sasl?: SASLOptions;
}

export function kafkaSecurity(options: Pick<KafkaClientOptions, 'ssl' | 'tls' | 'sasl'>): KafkaSecurity {
  const ssl = tlsOptions(options);
  const sasl = options.sasl;
  if (sasl === undefined) return { ssl };
  const password = sasl.password ?? readPasswordFile(sasl.passwordFile);
  return { ssl, sasl: { mechanism: sasl.mechanism, username: sasl.username, password } as SASLOptions };
}

function tlsOptions(options: Pick<KafkaClientOptions, 'ssl' | 'tls'>): boolean | ConnectionOptions {
  const tls = options.tls;
  if (tls === undefined) return options.ssl;
  const out: ConnectionOptions = { rejectUnauthorized: tls.rejectUnauthorized };
  if (tls.caFile !== undefined) out.ca = [readPem('kafka.tls.caFile', tls.caFile, 'certificate')];
  if (tls.certFile !== undefined) out.cert = readPem('kafka.tls.certFile', tls.certFile, 'certificate');
  if (tls.keyFile !== undefined) out.key = readPem('kafka.tls.keyFile', tls.keyFile, 'key');
  if (tls.servername !== undefined) out.servername = tls.servername;
  return out;
}

function readSettingFile(setting: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw asFileError(err, setting, path);
  }
}

/** A PEM file, checked by parsing it: a CA bundle's first certificate, or a private key. */
function readPem(setting: string, path: string, kind: 'certificate' | 'key'): Buffer {
  const pem = readSettingFile(setting, path);
  try {
    if (kind === 'key') createPrivateKey(pem);
    else new X509Certificate(pem);
  } catch {
    // Not the parser's message: for a key it may quote what it could not read.
    throw new RoadlogError('ROADLOG_ERR_CONFIG_INVALID', `${setting} ${path}: not a PEM ${kind === 'key' ? 'private key (unencrypted, -----BEGIN PRIVATE KEY-----)' : 'certificate (-----BEGIN CERTIFICATE-----)'}`, {
      details: { setting, path },
    });
  }
  return pem;
}

function readPasswordFile(path: string | undefined): string {
  if (path === undefined) throw new RoadlogError('ROADLOG_ERR_CONFIG_INVALID', 'kafka.sasl: expected password or passwordFile');
  const password = readSettingFile('kafka.sasl.passwordFile', path).toString('utf8').replace(/\r?\n$/, '');
  if (password === '') throw new RoadlogError('ROADLOG_ERR_CONFIG_INVALID', `kafka.sasl.passwordFile ${path}: the file is empty`, { details: { setting: 'kafka.sasl.passwordFile', path } });
  return password;
}

/** kafkajs's own socket factory (src/network/socketFactory.js), which it does not export. */
const defaultSocketFactory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
  const socket = ssl ? tlsConnect({ host, port, ...(isIP(host) === 0 ? { servername: host } : {}), ...ssl }, onConnect) : netConnect({ host, port }, onConnect);
  socket.setKeepAlive(true, 60_000);
  return socket;
};

/** The node:net error code a plaintext connection fails with when the broker answers in TLS. */
export const TLS_EXPECTED = 'ROADLOG_TLS_EXPECTED';

/**
 * A plaintext client on a TLS listener: the broker answers the client's first request with a
 * TLS alert record (0x15 0x03 0x0n: `15 03 03 00 02 02 50` from Kafka 4.4) and closes, which
 * kafkajs reports only as "Closed connection", like a broker going down. Watching the first
 * bytes of every plaintext connection turns it into a connection error that says so.
 */
export function tlsSniffingSocketFactory(inner: ISocketFactory = defaultSocketFactory): ISocketFactory {
  return (args) => {
    const socket = inner(args);
    if (args.ssl) return socket;
    const first = (chunk: Buffer): void => {
      if (chunk.length >= 3 && chunk[0] === 0x15 && chunk[1] === 0x03 && chunk[2]! <= 0x04) {
        const err = Object.assign(new Error(`${args.host}:${args.port} answered in TLS: it is a TLS listener, and the client is not configured for TLS (set kafka.tls)`), { code: TLS_EXPECTED });
        socket.destroy(err);
      }
    };
    socket.once('data', first);
    return socket;
  };
}
