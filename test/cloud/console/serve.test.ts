import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setPassword } from '../../../cloud/console/users.js';
import { exampleTelemetry } from '../../../shared/schema/index.js';
import { archiveFromMessages } from '../../support/archive.js';
import { httpBaseOf, runCli, startCli } from '../../support/cli.js';

/** `roadlog console` as it runs (the built CLI, a real socket): login, a report, 401s counted in /metrics, a clean stop; config errors name the setting. */
let dir: string;
let users: string;
let archive: string;
const env = { ROADLOG_KAFKA_BROKERS: '127.0.0.1:1', ROADLOG_LOG_LEVEL: 'error' };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'roadlog-console-serve-'));
  users = join(dir, 'users');
  await setPassword(users, 'olga', 'operator', 'operator-secret');
  archive = join(dir, 'archive');
  const t0 = Date.parse('2026-03-01T10:00:00Z');
  await writeFile(join(dir, 'm.jsonl'), Array.from({ length: 600 }, (_, i) => JSON.stringify(exampleTelemetry({ vehicleId: 'A', seq: i, ts: t0 + i * 1000, odometerKm: 100 + i / 100, fuelUsedL: 10 + i / 10_000 }))).join('\n'));
  await archiveFromMessages(join(dir, 'm.jsonl'), archive, { topic: 't.telemetry.v1' });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('roadlog console (built CLI)', () => {
  it('serves login and the reports on 127.0.0.1; refusals are counted in /metrics; SIGTERM stops it cleanly', async () => {
    const c = startCli(['console', '--port', '0', '--users', users, '--archive', archive], { env });
    try {
      const base = await httpBaseOf(c, 'roadlog console');
      expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${base}/api/reports/fleet`)).status).toBe(401);
      const login = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'olga', password: 'operator-secret' }) });
      expect(login.status).toBe(200);
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      const fleet = (await (await fetch(`${base}/api/reports/fleet`, { headers: { cookie } })).json()) as { rows: { vehicleId: string; samples: number; distanceKm: number }[] };
      expect(fleet.rows).toEqual([expect.objectContaining({ vehicleId: 'A', samples: 600, distanceKm: 5.99 })]);
      expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/roadlog_console_denied_total\{reason="no_session",component="console"\} 1/);
    } finally {
      c.child.kill('SIGTERM');
    }
    expect((await c.exited).code).toBe(0);
  });

  it('with --cert and --key: HTTPS, and the session cookie is Secure', async () => {
    const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    const c = startCli(['console', '--port', '0', '--users', users, '--archive', archive, '--cert', cert, '--key', key], { env });
    try {
      const base = await httpBaseOf(c, 'roadlog console');
      expect(base).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const res = await new Promise<{ status: number; setCookie: string }>((resolve, reject) => {
        const req = httpsRequest(`${base}/api/login`, { method: 'POST', ca: readFileSync(cert), checkServerIdentity: () => undefined, headers: { 'content-type': 'application/json' } }, (r) => {
          r.resume();
          resolve({ status: r.statusCode!, setCookie: String(r.headers['set-cookie']) });
        });
        req.on('error', reject);
        req.end(JSON.stringify({ user: 'olga', password: 'operator-secret' }));
      });
      expect(res.status).toBe(200);
      expect(res.setCookie).toMatch(/; HttpOnly; SameSite=Strict; Secure$/);
    } finally {
      c.child.kill('SIGTERM');
    }
    expect((await c.exited).code).toBe(0);
  });

  it('a missing users file, a port in use and half a TLS pair are refused with what to fix', async () => {
    const missing = await runCli(['console', '--port', '0', '--users', join(dir, 'nope'), '--archive', archive], { env });
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringMatching(/ROADLOG_ERR_FILE_NOT_FOUND console.usersFile: cannot read .*nope.*roadlog console passwd/)]);
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    try {
      const busy = await runCli(['console', '--port', String(port), '--users', users, '--archive', archive], { env });
      expect([busy.code, busy.stderr]).toEqual([1, expect.stringMatching(new RegExp(`ROADLOG_ERR_ADDRESS_IN_USE console.port ${port}`))]);
    } finally {
      taken.close();
    }
    const half = await runCli(['console', '--cert', join(dir, 'c.pem'), '--users', users], { env });
    expect([half.code, half.stderr]).toEqual([2, expect.stringMatching(/--cert and --key go together/)]);
  });
});
