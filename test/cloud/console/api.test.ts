import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsoleApi } from '../../../cloud/console/server.js';
import { Sessions } from '../../../cloud/console/sessions.js';
import { parseUsersFile, readUsersFile, setPassword, type User } from '../../../cloud/console/users.js';

/** The console's users file, sessions and API guard (fastify's inject: no socket). */
let dir: string;
let users: Map<string, User>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'roadlog-console-'));
  const file = join(dir, 'users');
  await writeFile(file, '# console users\n');
  expect(await setPassword(file, 'olga', 'operator', 'operator-secret')).toBe('added');
  expect(await setPassword(file, 'vic', 'viewer', 'wrong-one-first')).toBe('added');
  expect(await setPassword(file, 'vic', 'viewer', 'viewer-secret')).toBe('replaced');
  users = await readUsersFile(file);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function api(secure = false) {
  const registry = new Registry();
  const built = await buildConsoleApi({ users, registry, secure });
  built.app.post('/api/test/operator-only', async (req, reply) => (built.requireRole(req, reply, 'operator') ? { ok: true } : reply));
  await built.app.ready();
  const denied = async () => Object.fromEntries((await registry.getSingleMetric('roadlog_console_denied_total')!.get()).values.map((v) => [v.labels.reason, v.value]));
  return { ...built, denied };
}

async function login(app: Awaited<ReturnType<typeof api>>['app'], user: string, password: string) {
  const r = await app.inject({ method: 'POST', url: '/api/login', payload: { user, password } });
  const cookie = String(r.headers['set-cookie'] ?? '');
  return { r, cookie: cookie.split(';')[0]!, setCookie: cookie, csrf: r.statusCode === 200 ? (r.json() as { csrfToken: string }).csrfToken : '' };
}

describe('console users file', () => {
  it('keeps comments and other users; a bad line is named; an unknown role or a short password is refused', async () => {
    const text = await readFile(join(dir, 'users'), 'utf8');
    expect(text.split('\n')[0]).toBe('# console users');
    expect([...users.keys()]).toEqual(['olga', 'vic']);
    expect(users.get('vic')!.role).toBe('viewer');
    expect(() => parseUsersFile('olga: admin: scrypt$16384$8$1$AAAA$AAAA\n', 'f')).toThrow(/console.usersFile \(f\) line 1/);
    await expect(setPassword(join(dir, 'users'), 'x', 'viewer', 'short')).rejects.toMatchObject({ code: 'ROADLOG_ERR_USAGE' });
    await expect(setPassword(join(dir, 'users'), 'bad name', 'viewer', 'long-enough')).rejects.toMatchObject({ code: 'ROADLOG_ERR_USAGE' });
  });
});

describe('console API guard', () => {
  it('login: a wrong password or an unknown user is 401 and counted; the right one sets an HttpOnly SameSite=Strict cookie', async () => {
    const { app, denied } = await api();
    for (const [u, p] of [['olga', 'nope-nope'], ['nobody', 'operator-secret']]) {
      const r = await login(app, u!, p!);
      expect([r.r.statusCode, r.r.json().error.code, r.setCookie]).toEqual([401, 'ROADLOG_ERR_UNAUTHENTICATED', '']);
    }
    const ok = await login(app, 'olga', 'operator-secret');
    expect(ok.r.json()).toMatchObject({ user: 'olga', role: 'operator' });
    expect(ok.setCookie).toMatch(/^roadlog_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict$/);
    expect(await denied()).toEqual({ login_failed: 2 });
    const tls = await api(true);
    expect((await login(tls.app, 'vic', 'viewer-secret')).setCookie).toMatch(/; Secure$/);
  });

  it('no session: 401; a state-changing request without its CSRF token: 403; a viewer at an operator route: 403; each counted', async () => {
    const { app, denied } = await api();
    expect((await app.inject({ method: 'GET', url: '/api/me' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/api/me', headers: { cookie: 'roadlog_session=forged' } })).statusCode).toBe(401);
    // The guard goes by the route matched: a percent-encoded path reaches the same route and the same guard.
    for (const url of ['/%61pi/me', '/ap%69/me', '/api/%6De']) expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(401);
    const olga = await login(app, 'olga', 'operator-secret');
    expect((await app.inject({ method: 'POST', url: '/%61pi/test/operator-only', headers: { cookie: olga.cookie } })).statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url: '/api/me', headers: { cookie: olga.cookie } })).json()).toEqual({ user: 'olga', role: 'operator', csrfToken: olga.csrf });
    const forged = await app.inject({ method: 'POST', url: '/api/test/operator-only', headers: { cookie: olga.cookie } });
    expect([forged.statusCode, forged.json().error.code]).toEqual([403, 'ROADLOG_ERR_FORBIDDEN']);
    expect((await app.inject({ method: 'POST', url: '/api/test/operator-only', headers: { cookie: olga.cookie, 'x-csrf-token': 'x'.repeat(43) } })).statusCode).toBe(403);
    expect((await app.inject({ method: 'POST', url: '/api/test/operator-only', headers: { cookie: olga.cookie, 'x-csrf-token': olga.csrf } })).json()).toEqual({ ok: true });
    const vic = await login(app, 'vic', 'viewer-secret');
    const asViewer = await app.inject({ method: 'POST', url: '/api/test/operator-only', headers: { cookie: vic.cookie, 'x-csrf-token': vic.csrf } });
    expect([asViewer.statusCode, asViewer.json().error.message]).toEqual([403, 'vic is a viewer; this needs the operator role']);
    // One session's token does not pass for another's.
    expect((await app.inject({ method: 'POST', url: '/api/test/operator-only', headers: { cookie: olga.cookie, 'x-csrf-token': vic.csrf } })).statusCode).toBe(403);
    expect(await denied()).toEqual({ no_session: 5, csrf: 4, role: 1 });
  });

  it('a flood of logins: at most 16 scrypt checks at once, the rest refused with 429 (ROADLOG_ERR_BUSY), none let in', async () => {
    const { app } = await api();
    const answers = await Promise.all(Array.from({ length: 40 }, () => app.inject({ method: 'POST', url: '/api/login', payload: { user: 'olga', password: 'wrong-password' } })));
    const codes = answers.map((r) => `${r.statusCode} ${(r.json() as { error: { code: string } }).error.code}`);
    expect(codes.filter((c) => c === '429 ROADLOG_ERR_BUSY').length).toBeGreaterThan(0);
    expect(codes.filter((c) => c !== '429 ROADLOG_ERR_BUSY').every((c) => c === '401 ROADLOG_ERR_UNAUTHENTICATED')).toBe(true);
    expect((await app.inject({ method: 'POST', url: '/api/login', payload: { user: 'olga', password: 'operator-secret' } })).statusCode).toBe(200);
  });

  it('logout ends the session (with its CSRF token) and clears the cookie', async () => {
    const { app, sessions } = await api();
    const olga = await login(app, 'olga', 'operator-secret');
    expect((await app.inject({ method: 'POST', url: '/api/logout', headers: { cookie: olga.cookie } })).statusCode).toBe(403);
    const out = await app.inject({ method: 'POST', url: '/api/logout', headers: { cookie: olga.cookie, 'x-csrf-token': olga.csrf } });
    expect([out.statusCode, out.headers['set-cookie']]).toEqual([204, 'roadlog_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0']);
    expect(sessions.size).toBe(0);
    expect((await app.inject({ method: 'GET', url: '/api/me', headers: { cookie: olga.cookie } })).statusCode).toBe(401);
  });

  it('an idle session ends', () => {
    let now = 0;
    const s = new Sessions(1_000, () => now);
    const a = s.create('olga', 'operator');
    now = 900;
    expect(s.fromCookie(`x=1; roadlog_session=${a.id}`)?.user).toBe('olga');
    now = 1_800;
    expect(s.fromCookie(`roadlog_session=${a.id}`)?.user).toBe('olga');
    now = 2_801;
    expect(s.fromCookie(`roadlog_session=${a.id}`)).toBeUndefined();
    expect(s.size).toBe(0);
  });
});
