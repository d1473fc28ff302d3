import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import kafkajs from '../../../shared/kafka/kafkajs.js';
import { describe, expect, it } from 'vitest';
import { loadConfig, RoadlogConfigSchema } from '../../../shared/config/index.js';
import { RoadlogError } from '../../../shared/errors/index.js';
import { KafkaClientOptionsSchema, toRoadlogError } from '../../../shared/kafka/index.js';
import { kafkaSecurity, TLS_EXPECTED, tlsSniffingSocketFactory } from '../../../shared/kafka/security.js';
import { createLogger } from '../../../shared/logging/index.js';

// kafkajs exports these classes; its typings leave two out or give them no arguments.
const { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded } = kafkajs;
const { KafkaJSConnectionClosedError, KafkaJSSASLAuthenticationError } = kafkajs as unknown as {
  KafkaJSConnectionClosedError: new (message: string, where: { host: string; port: number }) => Error;
  KafkaJSSASLAuthenticationError: new (message: string) => Error;
};

const CA = fileURLToPath(new URL('fixtures/ca.pem', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'roadlog-kafka-security-'));
function file(name: string, text: string, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode });
  return path;
}
const KEY = file('client.key', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);

function failure(fn: () => unknown): RoadlogError {
  try {
    fn();
  } catch (err) {
    if (err instanceof RoadlogError) return err;
    throw err;
  }
  throw new Error('expected a RoadlogError');
}

const config = (kafka: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) => loadConfig(RoadlogConfigSchema, { env, overrides: { kafka } });

describe('kafka.tls and kafka.sasl options', () => {
  it('parse: rejectUnauthorized defaults to true; every field has its environment variable', () => {
    const c = config({}, { ROADLOG_KAFKA_TLS_CA_FILE: '/ca.pem', ROADLOG_KAFKA_TLS_SERVERNAME: 'kafka.example.com', ROADLOG_KAFKA_SASL_MECHANISM: 'scram-sha-512', ROADLOG_KAFKA_SASL_USERNAME: 'gw', ROADLOG_KAFKA_SASL_PASSWORD_FILE: '/pw' });
    expect(c.kafka.tls).toEqual({ caFile: '/ca.pem', servername: 'kafka.example.com', rejectUnauthorized: true });
    expect(c.kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'gw', passwordFile: '/pw' });
    expect(KafkaClientOptionsSchema.parse({}).tls).toBeUndefined();
  });

  it('refuse PLAIN without TLS, naming kafka.sasl.mechanism; accept it with kafka.tls or ssl: true', () => {
    const err = failure(() => config({ sasl: { mechanism: 'plain', username: 'gw', password: 'hunter2-secret' } }));
    expect(err.code).toBe('ROADLOG_ERR_CONFIG_INVALID');
    expect(err.message).toMatch(/^config invalid: kafka\.sasl\.mechanism: plain sends the password in clear text/);
    expect(err.message).not.toContain('hunter2-secret');
    expect(config({ tls: {}, sasl: { mechanism: 'plain', username: 'gw', password: 'x' } }).kafka.sasl?.mechanism).toBe('plain');
    expect(config({ ssl: true, sasl: { mechanism: 'plain', username: 'gw', password: 'x' } }).kafka.sasl?.mechanism).toBe('plain');
  });

  it('want exactly one of password and passwordFile, and never show the password', () => {
    const both = failure(() => config({ sasl: { mechanism: 'scram-sha-512', username: 'gw', password: 'hunter2-secret', passwordFile: '/pw' } }));
    expect(both.message).toMatch(/kafka\.sasl\.password: expected exactly one of password and passwordFile/);
    expect(both.message).not.toContain('hunter2-secret');
    expect(failure(() => config({ sasl: { mechanism: 'scram-sha-512', username: 'gw' } })).message).toMatch(/kafka\.sasl\.password: expected exactly one/);
    const wrongType = failure(() => config({}, { ROADLOG_KAFKA_SASL_MECHANISM: 'scram-sha-512', ROADLOG_KAFKA_SASL_USERNAME: 'gw', ROADLOG_KAFKA_SASL_PASSWORD: '' }));
    expect(wrongType.message).toMatch(/kafka\.sasl\.password \(from ROADLOG_KAFKA_SASL_PASSWORD\): expected at least 1 characters/);
    const number = failure(() => loadConfig(RoadlogConfigSchema, { env: {}, file: file('n.yaml', 'kafka:\n  sasl: { mechanism: scram-sha-512, username: gw, password: 98765432 }\n') }));
    expect(number.message).toMatch(/kafka\.sasl\.password \(in .*\): expected a string, got a secret \(not shown\)/);
    expect(number.message).not.toContain('98765432');
  });

  it('want certFile and keyFile together', () => {
    expect(failure(() => config({ tls: { certFile: '/c.pem' } })).message).toMatch(/kafka\.tls\.keyFile: expected certFile and keyFile together/);
    expect(failure(() => config({ tls: { cafile: '/c.pem' } })).message).toMatch(/kafka\.tls\.cafile: unknown key/);
  });
});

describe('kafkaSecurity: the files, read at client creation', () => {
  const opts = (o: Record<string, unknown>) => KafkaClientOptionsSchema.parse(o);

  it('maps tls to Node TLS options and reads the password file (one trailing newline dropped)', () => {
    const pw = file('pw', 's3cret word\n');
    const s = kafkaSecurity(opts({ tls: { caFile: CA, certFile: CA, keyFile: KEY, servername: 'kafka.example.com' }, sasl: { mechanism: 'scram-sha-512', username: 'gw', passwordFile: pw } }));
    expect(s.ssl).toMatchObject({ rejectUnauthorized: true, servername: 'kafka.example.com' });
    expect((s.ssl as { ca: Buffer[] }).ca[0]!.toString()).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(s.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'gw', password: 's3cret word' });
    expect(kafkaSecurity(opts({ ssl: true })).ssl).toBe(true);
    expect(kafkaSecurity(opts({})).ssl).toBe(false);
  });

  it('names the setting of a missing, unreadable or non-PEM file, and never quotes a key', () => {
    const missing = failure(() => kafkaSecurity(opts({ tls: { caFile: join(dir, 'nope.pem') } })));
    expect(missing.code).toBe('ROADLOG_ERR_FILE_NOT_FOUND');
    expect(missing.message).toBe(`kafka.tls.caFile ${join(dir, 'nope.pem')}: no such file or directory (ENOENT)`);
    mkdirSync(join(dir, 'a-dir'));
    expect(failure(() => kafkaSecurity(opts({ tls: { caFile: join(dir, 'a-dir') } }))).code).toBe('ROADLOG_ERR_FILE_ACCESS');
    const notPem = failure(() => kafkaSecurity(opts({ tls: { caFile: file('ca.txt', 'hello') } })));
    expect(notPem.code).toBe('ROADLOG_ERR_CONFIG_INVALID');
    expect(notPem.message).toMatch(/^kafka\.tls\.caFile .*ca\.txt: not a PEM certificate/);
    const badKey = failure(() => kafkaSecurity(opts({ tls: { certFile: CA, keyFile: file('bad.key', '-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n') } })));
    expect(badKey.message).toMatch(/^kafka\.tls\.keyFile .*bad\.key: not a PEM private key/);
    expect(badKey.message).not.toContain('c2VjcmV0');
    expect(failure(() => kafkaSecurity(opts({ sasl: { mechanism: 'scram-sha-512', username: 'gw', passwordFile: join(dir, 'no-pw') } }))).message).toMatch(/^kafka\.sasl\.passwordFile .*no-pw: no such file/);
    expect(failure(() => kafkaSecurity(opts({ sasl: { mechanism: 'scram-sha-512', username: 'gw', passwordFile: file('empty', '\n') } }))).message).toMatch(/kafka\.sasl\.passwordFile .*: the file is empty/);
  });
});

describe('toRoadlogError: TLS and SASL failures as kafkajs 2.2.4 reports them', () => {
  const retried = (e: Error) => new KafkaJSNumberOfRetriesExceeded(e, { retryCount: 1, retryTime: 100 });

  it('a refused SASL login is ROADLOG_ERR_KAFKA_AUTH', () => {
    const e = toRoadlogError(new KafkaJSSASLAuthenticationError('SASL SCRAM SHA512 authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512'), 'kafka');
    expect(e.code).toBe('ROADLOG_ERR_KAFKA_AUTH');
    expect(e.message).toMatch(/^kafka: SASL authentication failed \(SASL SCRAM SHA512 authentication failed: .*invalid credentials.*\): check kafka\.sasl/);
  });

  it('an untrusted CA, a wrong host name, TLS on a plaintext port and plaintext on a TLS port are ROADLOG_ERR_KAFKA_TLS', () => {
    const cases: [string, string, RegExp][] = [
      ['Connection error: self-signed certificate in certificate chain', 'SELF_SIGNED_CERT_IN_CHAIN', /not signed by a CA this client trusts: set kafka\.tls\.caFile/],
      ["Connection error: Hostname/IP does not match certificate's altnames: Host: kafka.example.com. is not in the cert's altnames: IP Address:127.0.0.1, DNS:localhost", 'ERR_TLS_CERT_ALTNAME_INVALID', /does not name this host.*kafka\.tls\.servername/],
      ['Connection error: Client network socket disconnected before secure TLS connection was established', 'ECONNRESET', /is this a TLS listener\?/],
      ['Connection error: 127.0.0.1:9093 answered in TLS: it is a TLS listener, and the client is not configured for TLS (set kafka.tls)', TLS_EXPECTED, /answered in TLS.*set kafka\.tls\)$/],
    ];
    for (const [message, code, hint] of cases) {
      const e = toRoadlogError(retried(new KafkaJSConnectionError(message, { broker: '127.0.0.1:9093', code })), 'kafka');
      expect(e.code, code).toBe('ROADLOG_ERR_KAFKA_TLS');
      expect(e.retriable).toBe(false);
      expect(e.message, code).toMatch(/^kafka: TLS failed: /);
      expect(e.message, code).toMatch(hint);
    }
  });

  it('a refused or closed connection stays ROADLOG_ERR_KAFKA_UNAVAILABLE; a closed one hints at SASL', () => {
    expect(toRoadlogError(retried(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9', { code: 'ECONNREFUSED' })), 'kafka').code).toBe('ROADLOG_ERR_KAFKA_UNAVAILABLE');
    const closed = toRoadlogError(retried(new KafkaJSConnectionClosedError('Closed connection', { host: '127.0.0.1', port: 9093 })), 'kafka');
    expect(closed.code).toBe('ROADLOG_ERR_KAFKA_UNAVAILABLE');
    expect(closed.message).toMatch(/requires SASL closes clients that do not log in \(kafka\.sasl\)/);
  });
});

describe('tlsSniffingSocketFactory', () => {
  it('fails a plaintext connection whose peer answers with a TLS alert, and leaves others alone', async () => {
    const alert = Buffer.from('15030300020250', 'hex'); // what Kafka 4.4's SASL_SSL listener sends a plaintext client
    const server = createServer((s) => s.once('data', () => s.end(alert)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const factory = tlsSniffingSocketFactory();
      const socket = factory({ host: '127.0.0.1', port, ssl: undefined as never, onConnect: () => socket.write('hello') });
      const err = await new Promise<NodeJS.ErrnoException>((resolve) => socket.once('error', resolve));
      expect(err.code).toBe(TLS_EXPECTED);
      expect(err.message).toBe(`127.0.0.1:${port} answered in TLS: it is a TLS listener, and the client is not configured for TLS (set kafka.tls)`);
      const kafkaLike = Buffer.from('0000000400000001', 'hex');
      const plain = createServer((s) => s.once('data', () => s.write(kafkaLike)));
      await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
      const other = factory({ host: '127.0.0.1', port: (plain.address() as AddressInfo).port, ssl: undefined as never, onConnect: () => other.write('hello') });
      const data = await new Promise<Buffer>((resolve) => other.once('data', resolve));
      expect(data).toEqual(kafkaLike);
      expect(other.destroyed).toBe(false);
      other.destroy();
      plain.close();
    } finally {
      server.close();
    }
  });
});

describe('logs', () => {
  it('never carry a password, whichever object holds it', () => {
    let out = '';
    const sink = new Writable({ write: (chunk: Buffer, _enc, cb) => ((out += chunk.toString()), cb()) });
    const logger = createLogger({ format: 'json' }, sink);
    logger.info({ kafka: { sasl: { mechanism: 'plain', username: 'gw', password: 'hunter2-secret' } }, password: 'top-secret', err: { details: { sasl: { password: 'deep-secret' } } } }, 'config');
    expect(out).not.toMatch(/hunter2-secret|top-secret|deep-secret/);
    expect(JSON.parse(out)).toMatchObject({ kafka: { sasl: { username: 'gw', password: '***' } }, password: '***' });
  });
});

