import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Counter, type Registry } from 'prom-client';
import { isRoadlogError, RoadlogError } from '../../shared/errors/index.js';
import { toRoadlogError } from '../../shared/kafka/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { csrfOk, CSRF_HEADER, sessionCookie, Sessions, type Session } from './sessions.js';
import { authenticate, type Role, type User } from './users.js';

/**
 * The console's HTTP API core: login, logout, who am I, and the guard every other `/api/` route
 * stands behind. No session: 401. A state-changing request (anything but GET and HEAD) whose
 * `x-csrf-token` is not its session's: 403. A route that needs the operator role (`requireRole`)
 * and a viewer's session: 403. Each refusal is counted in `roadlog_console_denied_total{reason}`.
 * Errors are `{ error: { code, message } }` with a roadlog error code.
 */
export interface ConsoleApiOptions {
  users: ReadonlyMap<string, User>;
  registry: Registry;
  /** Served over TLS: the session cookie is Secure. */
  secure: boolean;
  /** Idle sessions end after this long (default 8 h). */
  sessionIdleMs?: number;
  https?: { key: Buffer; cert: Buffer };
  logger?: Logger;
}

export type DenyReason = 'no_session' | 'csrf' | 'role' | 'login_failed';

const sessionOf = new WeakMap<FastifyRequest, Session>();
/** scrypt checks at once (16 MiB each); more are refused with 429. */
const MAX_LOGINS_IN_PROGRESS = 16;

/** The session the guard found for this request (routes behind the guard always have one). */
export function session(req: FastifyRequest): Session {
  const s = sessionOf.get(req);
  if (s === undefined) throw new Error(`no session for ${req.method} ${req.url}: a route outside the guard asked for one`);
  return s;
}

export async function buildConsoleApi(o: ConsoleApiOptions): Promise<{ app: FastifyInstance; sessions: Sessions; requireRole(req: FastifyRequest, reply: FastifyReply, role: Role): boolean }> {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024, ...(o.https === undefined ? {} : { https: o.https }) });
  const sessions = new Sessions(o.sessionIdleMs ?? 8 * 3_600_000);
  let loginsInProgress = 0;
  const denied = new Counter({ name: 'roadlog_console_denied_total', help: 'Console API requests refused: no_session (401), csrf (403, a state-changing request without its token), role (403, a viewer acting as an operator), login_failed (401).', labelNames: ['reason'], registers: [o.registry] });
  const deny = (reply: FastifyReply, reason: DenyReason, status: 401 | 403, message: string) => {
    denied.inc({ reason });
    return reply.code(status).send({ error: { code: status === 401 ? 'ROADLOG_ERR_UNAUTHENTICATED' : 'ROADLOG_ERR_FORBIDDEN', message } });
  };

  // Errors answer `{ error: { code, message } }`: a bad request (fastify's validation, a body
  // too large) is a usage error with fastify's status, a roadlog or Kafka error keeps its code
  // (503 when trying again may work), anything else is a bug (500, logged).
  app.setErrorHandler((err: Error & { validation?: unknown; statusCode?: number }, _req, reply) => {
    if (err.validation !== undefined || (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500)) {
      return reply.code(err.statusCode ?? 400).send({ error: { code: 'ROADLOG_ERR_USAGE', message: err.message } });
    }
    const e = isRoadlogError(err) ? err : err.name.startsWith('KafkaJS') ? toRoadlogError(err, 'console') : new RoadlogError('ROADLOG_ERR_INTERNAL', err.message, { cause: err });
    if (e.code === 'ROADLOG_ERR_INTERNAL') o.logger?.error({ err }, 'console: a request failed');
    return reply.code(e.retriable ? 503 : e.code === 'ROADLOG_ERR_INTERNAL' ? 500 : 400).send({ error: { code: e.code, message: e.message } });
  });

  app.addHook('onRequest', async (req, reply) => {
    // By the route matched, not the raw URL: `/%61pi/...` reaches the same routes.
    const route = req.routeOptions.url;
    if (route === undefined || !route.startsWith('/api/') || route === '/api/login') return;
    const s = sessions.fromCookie(req.headers.cookie);
    if (s === undefined) return deny(reply, 'no_session', 401, 'log in first (POST /api/login)');
    if (req.method !== 'GET' && req.method !== 'HEAD' && !csrfOk(s, req.headers[CSRF_HEADER])) return deny(reply, 'csrf', 403, `a state-changing request needs the session's ${CSRF_HEADER} header`);
    sessionOf.set(req, s);
  });

  app.post<{ Body: { user: string; password: string } }>('/api/login', {
    schema: { body: { type: 'object', required: ['user', 'password'], additionalProperties: false, properties: { user: { type: 'string', maxLength: 64 }, password: { type: 'string', maxLength: 1024 } } } },
  }, async (req, reply) => {
    // Each attempt is a scrypt (16 MiB, tens of ms): a flood of them waits its turn or is refused, never exhausts memory.
    if (loginsInProgress >= MAX_LOGINS_IN_PROGRESS) return reply.code(429).header('retry-after', '1').send({ error: { code: 'ROADLOG_ERR_BUSY', message: 'too many logins at once; try again in a moment' } });
    loginsInProgress += 1;
    const user = await authenticate(o.users, req.body.user, req.body.password).finally(() => (loginsInProgress -= 1));
    if (user === undefined) return deny(reply, 'login_failed', 401, 'wrong user or password');
    const s = sessions.create(user.name, user.role);
    return reply.header('set-cookie', sessionCookie(s, o.secure)).send({ user: s.user, role: s.role, csrfToken: s.csrf });
  });

  app.post('/api/logout', async (req, reply) => {
    sessions.end(session(req));
    return reply.header('set-cookie', sessionCookie(undefined, o.secure)).code(204).send();
  });

  app.get('/api/me', async (req) => {
    const s = session(req);
    return { user: s.user, role: s.role, csrfToken: s.csrf };
  });

  const requireRole = (req: FastifyRequest, reply: FastifyReply, role: Role): boolean => {
    if (role === 'viewer' || session(req).role === 'operator') return true;
    void deny(reply, 'role', 403, `${session(req).user} is a ${session(req).role}; this needs the ${role} role`);
    return false;
  };
  return { app, sessions, requireRole };
}
