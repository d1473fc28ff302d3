import { readdirSync, readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

/**
 * The console's page: the files of cloud/console/web/ (copied into dist/ by the build; index.html
 * at `/`, the JavaScript modules and the style sheet by name), read once at start and served by
 * the console itself, with nothing from elsewhere (no CDN).
 * A Content-Security-Policy keeps it so: scripts, styles and connections to this origin only
 * (inline styles allowed for the charts' SVG attributes, no inline script).
 */
const TYPES: Readonly<Record<string, string>> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };
export const CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

export function registerWeb(app: FastifyInstance): void {
  const dir = new URL('./web/', import.meta.url);
  const files = readdirSync(dir).filter((f) => TYPES[f.split('.').pop()!] !== undefined);
  for (const file of files) {
    const route = file === 'index.html' ? '/' : `/${file}`;
    const body = readFileSync(new URL(file, dir));
    const type = TYPES[file.split('.').pop()!]!;
    app.get(route, async (_req, reply) => reply.header('content-type', type).header('content-security-policy', CONTENT_SECURITY_POLICY).header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache').send(body));
  }
}
