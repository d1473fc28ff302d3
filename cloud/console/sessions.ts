import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Role } from './users.js';

/**
 * Logged-in sessions, in the console's memory (a restart logs everyone out). A session is a
 * random id in an HttpOnly, SameSite=Strict cookie, with its own CSRF token that every
 * state-changing request must echo in the `x-csrf-token` header. Idle sessions end after
 * `idleMs`.
 */
export const SESSION_COOKIE = 'roadlog_session';
export const CSRF_HEADER = 'x-csrf-token';

export interface Session {
  id: string;
  user: string;
  role: Role;
  csrf: string;
  lastSeen: number;
}

export class Sessions {
  private readonly byId = new Map<string, Session>();
  /** What to do when a session ends (its open event streams close). */
  private readonly onEnd = new Map<string, Set<() => void>>();

  constructor(private readonly idleMs: number, private readonly now: () => number = Date.now) {}

  create(user: string, role: Role): Session {
    const s: Session = { id: randomBytes(32).toString('base64url'), user, role, csrf: randomBytes(32).toString('base64url'), lastSeen: this.now() };
    this.byId.set(s.id, s);
    return s;
  }

  /** The session of this cookie header, if it is alive (and then it is touched). */
  fromCookie(header: string | undefined): Session | undefined {
    const id = cookieValue(header, SESSION_COOKIE);
    if (id === undefined) return undefined;
    const s = this.byId.get(id);
    if (s === undefined) return undefined;
    if (this.now() - s.lastSeen > this.idleMs) {
      this.byId.delete(id);
      return undefined;
    }
    s.lastSeen = this.now();
    return s;
  }

  end(s: Session): void {
    this.byId.delete(s.id);
    const listeners = this.onEnd.get(s.id);
    this.onEnd.delete(s.id);
    for (const l of listeners ?? []) l();
  }

  /** Still alive (not ended, not idle too long), without touching it: an open stream is not activity. */
  alive(s: Session): boolean {
    if (this.byId.get(s.id) !== s) return false;
    if (this.now() - s.lastSeen <= this.idleMs) return true;
    this.end(s);
    return false;
  }

  /** Calls `listener` when the session ends (logout, or found idle); returns the way to stop listening. */
  whenEnded(s: Session, listener: () => void): () => void {
    const set = this.onEnd.get(s.id) ?? this.onEnd.set(s.id, new Set()).get(s.id)!;
    set.add(listener);
    return () => set.delete(listener);
  }

  get size(): number {
    return this.byId.size;
  }
}

export function csrfOk(s: Session, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string') return false;
  const a = Buffer.from(header);
  const b = Buffer.from(s.csrf);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** `Set-Cookie` for a session (Secure when served over TLS), or for ending one. */
export function sessionCookie(s: Session | undefined, secure: boolean): string {
  const attrs = `Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
  return s === undefined ? `${SESSION_COOKIE}=; ${attrs}; Max-Age=0` : `${SESSION_COOKIE}=${s.id}; ${attrs}`;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
