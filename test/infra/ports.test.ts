import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePorts, servicePortRange } from '../../infra/service/index.js';

describe('service ports', () => {
  it('are distinct, free, and below the ephemeral range outgoing connections use', async () => {
    const [low, high] = await servicePortRange();
    expect(high).toBeLessThanOrEqual(32_768);
    expect(low).toBeLessThan(high);
    const ports = await freePorts(20);
    expect(new Set(ports).size).toBe(20);
    for (const p of ports) {
      expect(p).toBeGreaterThanOrEqual(low);
      expect(p).toBeLessThan(high);
    }
    // Free: each can be listened on.
    for (const p of ports.slice(0, 5)) {
      await new Promise<void>((resolve, reject) => {
        const s = createServer();
        s.once('error', reject);
        s.listen({ host: '127.0.0.1', port: p, exclusive: true }, () => s.close(() => resolve()));
      });
    }
  });
});
