import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { listen } from '../net/index.js';
import { Registry, collectDefaultMetrics } from 'prom-client';

/** A registry with the process metrics (CPU, RSS, event-loop lag) under the `roadlog_` prefix. */
export function createMetricsRegistry(labels: Record<string, string> = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry, prefix: 'roadlog_' });
  return registry;
}

export interface Health {
  ready: boolean;
  details?: Record<string, unknown>;
}

/** Extra `GET` routes answering JSON (the edge agent's `/status`). */
export type JsonRoutes = Record<string, () => unknown>;
/** `POST` routes answering JSON, given the query string (the edge agent's drills); an error with a `code` answers 400. */
export type JsonActions = Record<string, (query: URLSearchParams) => unknown>;

/** Serves `GET /metrics` (Prometheus text), `GET /healthz` (200 ready / 503 not ready, JSON body) and any JSON routes and actions given. */
export function metricsRequestListener(registry: Registry, health: () => Health | Promise<Health> = () => ({ ready: true }), routes: JsonRoutes = {}, actions: JsonActions = {}) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const [path, query] = (req.url ?? '/').split('?') as [string, string | undefined];
    try {
      if (req.method === 'POST' && Object.hasOwn(actions, path)) {
        req.resume(); // a body is not read
        let body: string;
        try {
          body = JSON.stringify(await actions[path]!(new URLSearchParams(query ?? '')));
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          if (typeof code !== 'string') throw err;
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code, message: (err as Error).message } }));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
        return;
      }
      if (req.method === 'GET' && path === '/metrics') {
        const body = await registry.metrics();
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(body);
      } else if (req.method === 'GET' && path === '/healthz') {
        const h = await health();
        res.writeHead(h.ready ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: h.ready ? 'ready' : 'not ready', ...h.details }));
      } else if (req.method === 'GET' && path !== undefined && Object.hasOwn(routes, path)) {
        const body = JSON.stringify(await routes[path]!());
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end(`not found: try ${['/metrics', '/healthz', ...Object.keys(routes)].join(', ')}\n`);
      }
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`error: ${(err as Error).message}\n`);
    }
  };
}

export interface MetricsServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** `setting` names the config key of the port in errors (ROADLOG_ERR_ADDRESS_IN_USE: `edge.http.port 9464: ...`). */
export async function startMetricsServer(options: { registry: Registry; host?: string; port?: number; setting?: string; health?: () => Health | Promise<Health>; routes?: JsonRoutes; actions?: JsonActions }): Promise<MetricsServer> {
  const listener = metricsRequestListener(options.registry, options.health, options.routes, options.actions);
  const server: Server = createServer((req, res) => void listener(req, res));
  const { port, address } = await listen(server, { host: options.host ?? '127.0.0.1', port: options.port ?? 0, setting: options.setting ?? 'http.port' });
  let closed: Promise<void> | undefined;
  return {
    port,
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    close: () => (closed ??= new Promise<void>((resolve) => server.close(() => resolve()))),
  };
}
