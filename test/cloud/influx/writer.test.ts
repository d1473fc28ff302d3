import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { InfluxWriter } from '../../../cloud/influx/writer.js';
import { createLogger } from '../../../shared/logging/index.js';

const logger = createLogger({ level: 'silent', format: 'json', name: 'test' });
let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server === undefined ? r() : server.close(() => r()))));

/** An InfluxDB stand-in that fails on purpose: 503 for the first `unavailable` writes, 400 for a batch holding a line with BAD. */
async function faulty(unavailable: number): Promise<{ url: string; written: string[]; requests: () => number }> {
  const written: string[] = [];
  let requests = 0;
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      requests++;
      if (requests <= unavailable) return void res.writeHead(503).end('{"error":"overloaded"}');
      const lines = body.split('\n');
      if (lines.some((l) => l.includes('BAD'))) {
        // InfluxDB 1.x writes the good points of a partial write.
        written.push(...lines.filter((l) => !l.includes('BAD')));
        return void res.writeHead(400).end('{"error":"partial write: field type conflict"}');
      }
      written.push(...lines);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, written, requests: () => requests };
}

describe('InfluxWriter against a failing server', () => {
  it('tries a 503 again with backoff and writes every point once it answers', async () => {
    const s = await faulty(3);
    const retries: (number | string)[] = [];
    const w = new InfluxWriter({ url: s.url, database: 'd', requestTimeoutMs: 2_000 }, { written: () => {}, rejected: () => {}, retry: (st) => retries.push(st) }, logger);
    await w.write(['m v=1 1', 'm v=2 2']);
    expect(retries).toEqual([503, 503, 503]);
    expect(s.written).toEqual(['m v=1 1', 'm v=2 2']);
  });

  it('splits a batch InfluxDB refuses down to the bad point, counts that one and writes the rest', async () => {
    const s = await faulty(0);
    const rejected: string[] = [];
    const w = new InfluxWriter({ url: s.url, database: 'd', requestTimeoutMs: 2_000 }, { written: () => {}, rejected: (l) => rejected.push(l), retry: () => {} }, logger);
    const lines = Array.from({ length: 16 }, (_, i) => (i === 11 ? 'm BAD=1 11' : `m v=${i} ${i}`));
    await w.write(lines);
    expect(rejected).toEqual(['m BAD=1 11']);
    expect(new Set(s.written)).toEqual(new Set(lines.filter((l) => !l.includes('BAD'))));
    expect(s.requests()).toBeLessThanOrEqual(1 + 2 * 4);
  });

  it('gives the batch back, unwritten, when told to stop while the server is down', async () => {
    const s = await faulty(1_000);
    let stop = false;
    const w = new InfluxWriter({ url: s.url, database: 'd', requestTimeoutMs: 2_000 }, { written: () => {}, rejected: () => {}, retry: () => (stop = true) }, logger, () => stop);
    await expect(w.write(['m v=1 1'])).rejects.toThrow(/stopping with a batch not written/);
    expect(s.written).toEqual([]);
  });
});
