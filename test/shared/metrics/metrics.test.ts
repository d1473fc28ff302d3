import { Counter } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetricsRegistry, startMetricsServer, type MetricsServer } from '../../../shared/metrics/index.js';

let server: MetricsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('metrics server', () => {
  it('serves Prometheus text with process metrics, our counters and default labels', async () => {
    const registry = createMetricsRegistry({ gateway: 'gw-1' });
    const counter = new Counter({ name: 'roadlog_test_things_total', help: 'things', registers: [registry] });
    counter.inc(3);
    server = await startMetricsServer({ registry });
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toContain('roadlog_test_things_total{gateway="gw-1"} 3');
    expect(body).toMatch(/roadlog_process_resident_memory_bytes\{gateway="gw-1"\} \d+/);
  });

  it('answers /healthz 200 when ready and 503 when not, with details', async () => {
    let ready = false;
    server = await startMetricsServer({ registry: createMetricsRegistry(), health: () => ({ ready, details: { log: ready ? 'open' : 'opening' } }) });
    const notReady = await fetch(`${server.url}/healthz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: 'not ready', log: 'opening' });
    ready = true;
    const ok = await fetch(`${server.url}/healthz`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: 'ready', log: 'open' });
  });

  it('answers 404 elsewhere and 500 when the health check throws', async () => {
    server = await startMetricsServer({ registry: createMetricsRegistry(), health: () => { throw new Error('boom'); } });
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    const broken = await fetch(`${server.url}/healthz`);
    expect(broken.status).toBe(500);
    expect(await broken.text()).toContain('boom');
  });

  it('close() is idempotent', async () => {
    const s = await startMetricsServer({ registry: createMetricsRegistry() });
    await Promise.all([s.close(), s.close()]);
    await s.close();
  });
});
