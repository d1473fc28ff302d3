import type { FastifyReply, FastifyRequest } from 'fastify';
import { session } from './server.js';
import type { Sessions } from './sessions.js';

/**
 * A server-sent event stream for one request: `text/event-stream`, a comment every 15 s so
 * proxies keep it open, and closed when the client goes, when its session ends (logout, or
 * idle too long: checked at each keep-alive) or when the console stops. `onClose` runs once,
 * whichever comes first.
 */
export interface EventStream {
  send(event: string, data: unknown): void;
  /** Data that is JSON already. */
  sendJson(event: string, json: string): void;
  onClose(fn: () => void): void;
  close(): void;
  readonly closed: boolean;
}

export function eventStream(req: FastifyRequest, reply: FastifyReply, sessions: Sessions): EventStream {
  const s = session(req);
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
  const closers: (() => void)[] = [];
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepAlive);
    stopWatching();
    for (const fn of closers.splice(0)) fn();
    raw.end();
  };
  const keepAlive = setInterval(() => (sessions.alive(s) ? raw.write(': keep-alive\n\n') : close()), 15_000);
  const stopWatching = sessions.whenEnded(s, close);
  raw.on('close', close);
  if (raw.destroyed) close();
  return {
    send: (event, data) => {
      if (!closed) raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    sendJson: (event, json) => {
      if (!closed) raw.write(`event: ${event}\ndata: ${json}\n\n`);
    },
    onClose: (fn) => (closed ? fn() : void closers.push(fn)),
    close,
    get closed() {
      return closed;
    },
  };
}
