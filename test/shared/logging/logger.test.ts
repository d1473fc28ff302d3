import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../shared/logging/index.js';

function sink(isTTY: boolean): { stream: Writable & { isTTY?: boolean }; text: () => string } {
  let out = '';
  const stream = new Writable({ write: (chunk: Buffer, _enc, cb) => { out += chunk.toString(); cb(); } }) as Writable & { isTTY?: boolean };
  stream.isTTY = isTTY;
  return { stream, text: () => out };
}

describe('logger', () => {
  it('writes JSON lines when the destination is not a terminal', () => {
    const s = sink(false);
    createLogger({ level: 'info', name: 'edge' }, s.stream).info({ vehicleId: 'VH-1' }, 'hello');
    const line = JSON.parse(s.text().trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 30, name: 'edge', vehicleId: 'VH-1', msg: 'hello' });
  });

  it('is human-readable when a terminal asks for it, and JSON when told so even on a terminal', () => {
    const tty = sink(true);
    createLogger({ level: 'info' }, tty.stream).info('hello there');
    expect(tty.text()).toMatch(/INFO.*hello there/);
    expect(() => JSON.parse(tty.text())).toThrow();
    const forced = sink(true);
    createLogger({ level: 'info', format: 'json' }, forced.stream).info('x');
    expect(JSON.parse(forced.text().trim())).toMatchObject({ msg: 'x' });
  });

  it('drops lines below the level', () => {
    const s = sink(false);
    const logger = createLogger({ level: 'warn' }, s.stream);
    logger.info('quiet');
    logger.warn('loud');
    expect(s.text()).not.toContain('quiet');
    expect(s.text()).toContain('loud');
  });
});
