import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { waitFor } from '../../support/kafka.js';
import { connectClient, readLog, removeTempDirs, startAgent, telemetry, tempDir, topicOf, type TestAgent } from './support/agent.js';

/**
 * TLS with client certificates, with keys made by openssl here: TLS < 1.2 is refused, a client
 * without a certificate or with one from another CA is refused, and a good certificate's CN is
 * the vehicle (its own topic works, another vehicle's is refused).
 */
const run = promisify(execFile);
let dir: string;
let t: TestAgent;
let tlsPort: number;

async function openssl(...args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

/** A CA (ca.key, ca.crt) and a certificate signed by it (name.key, name.crt). */
async function ca(name: string): Promise<void> {
  await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`);
}
async function cert(name: string, cn: string, signer: string, ext?: string): Promise<void> {
  await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
  const extArgs = ext === undefined ? [] : ['-extfile', `${name}.ext`];
  if (ext !== undefined) await writeFile(join(dir, `${name}.ext`), ext);
  await openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${signer}.crt`, '-CAkey', `${signer}.key`, '-CAcreateserial', '-days', '2', '-out', `${name}.crt`, ...extArgs);
}
const file = (name: string): Buffer => readFileSync(join(dir, name));

beforeAll(async () => {
  dir = await tempDir('roadlog-tls-');
  await Promise.all([ca('fleet-ca'), ca('other-ca')]);
  await Promise.all([
    cert('server', 'localhost', 'fleet-ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\n'),
    cert('vh-a', 'VH-A', 'fleet-ca'),
    cert('intruder', 'VH-A', 'other-ca'),
  ]);
  t = await startAgent({ mqtt: { tls: { port: 0, certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key'), caFile: join(dir, 'fleet-ca.crt') } } });
  tlsPort = t.agent.listeners.find((l) => l.protocol === 'mqtts')!.port;
}, 60_000);
afterAll(async () => {
  await t?.close();
  await removeTempDirs();
});

const mqtts = (options: Record<string, unknown>): Promise<MqttClient> =>
  connectClient(`mqtts://127.0.0.1:${tlsPort}`, { ca: file('fleet-ca.crt'), servername: 'localhost', ...options });

async function tlsRejects(): Promise<number> {
  const text = await t.agent.registry.getSingleMetricAsString('roadlog_edge_rejects_total');
  return Number(/reason="tls_handshake"[^}]*} (\d+)/.exec(text)?.[1] ?? 0);
}

describe('ingress TLS', () => {
  it('refuses TLS 1.0 and 1.1 (the server says so, not only the client)', async () => {
    for (const version of ['TLSv1', 'TLSv1.1'] as const) {
      const before = await tlsRejects();
      const err = await new Promise<Error | undefined>((resolve) => {
        // SECLEVEL=0 lets this client offer the old protocols at all; the server must refuse them.
        const s = tlsConnect({ host: '127.0.0.1', port: tlsPort, minVersion: version, maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0', ca: file('fleet-ca.crt'), cert: file('vh-a.crt'), key: file('vh-a.key'), servername: 'localhost' });
        s.once('secureConnect', () => {
          s.destroy();
          resolve(undefined);
        });
        s.once('error', (e) => resolve(e));
      });
      expect(err?.message, version).toMatch(/alert protocol version/); // alert 70, sent by the server
      await waitFor(async () => ((await tlsRejects()) > before ? true : undefined), 2_000, 'the server to count the refused handshake');
    }
  });

  it('refuses a client without a certificate and one whose certificate another CA signed', async () => {
    await expect(mqtts({})).rejects.toThrow();
    await expect(mqtts({ cert: file('intruder.crt'), key: file('intruder.key') })).rejects.toThrow();
  });

  it("takes the vehicle id from the certificate's CN: its own topic is acked, another vehicle's is refused", async () => {
    const a = await mqtts({ cert: file('vh-a.crt'), key: file('vh-a.key'), clientId: 'tls-a' });
    for (let seq = 1; seq <= 3; seq++) await a.publishAsync(topicOf('VH-A'), telemetry('VH-A', seq), { qos: 1 });
    let pubacks = 0;
    let closed = false;
    a.on('packetreceive', (p) => void (p.cmd === 'puback' && (pubacks += 1)));
    a.on('close', () => (closed = true));
    a.publish(topicOf('VH-B'), telemetry('VH-B', 1), { qos: 1 });
    await waitFor(() => (closed ? true : undefined), 5_000, 'the server to close the connection');
    expect(pubacks).toBe(0);
    a.end(true);
    // A username that is not the certificate's CN is refused too.
    await expect(mqtts({ cert: file('vh-a.crt'), key: file('vh-a.key'), username: 'VH-B' })).rejects.toThrow();

    await t.close();
    const records = await readLog(t.dataDir);
    expect(records.map((r) => `${r.lane} ${r.key} ${(JSON.parse(r.text) as { seq: number }).seq}`)).toEqual(['normal VH-A 1', 'normal VH-A 2', 'normal VH-A 3']);
  });
});
