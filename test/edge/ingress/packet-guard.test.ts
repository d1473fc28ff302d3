import { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PacketGuard, type GuardViolation } from '../../../edge/ingress/packet-guard.js';

/** A stand-in socket: what we write into `wire` arrives at the guard as socket data. */
function guarded(max: number) {
  const wire = new PassThrough();
  const socket = wire as unknown as Socket;
  (socket as unknown as { setNoDelay: () => void }).setNoDelay = () => undefined;
  const violations: [GuardViolation, number][] = [];
  const guard = new PacketGuard(socket, max, (v, n) => violations.push([v, n]));
  const received: Buffer[] = [];
  guard.on('data', (c: Buffer) => received.push(c));
  guard.on('error', () => undefined);
  return { wire, guard, violations, received: () => Buffer.concat(received) };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('packet guard', () => {
  it('passes packets through unchanged, however they are split', async () => {
    const g = guarded(1000);
    // PINGREQ (c0 00), then a PUBLISH with a 200-byte body (length as a 2-byte varint: c8 01).
    const publish = Buffer.concat([Buffer.from([0x30, 0xc8, 0x01]), Buffer.alloc(200, 7)]);
    const all = Buffer.concat([Buffer.from([0xc0, 0x00]), publish, Buffer.from([0xc0, 0x00])]);
    for (let i = 0; i < all.length; i += 7) g.wire.write(all.subarray(i, i + 7));
    await tick();
    expect(g.received()).toEqual(all);
    expect(g.violations).toEqual([]);
  });

  it('closes on a packet declaring more than the limit, before its body arrives', async () => {
    const g = guarded(1000);
    g.wire.write(Buffer.from([0x30, 0xe9, 0x07])); // remaining length 1001 → 1004 bytes in all
    await tick();
    expect(g.violations).toEqual([['oversize', 1004]]);
    expect(g.guard.destroyed).toBe(true);
    expect(g.received().length).toBe(0);
  });

  it('closes on a length field longer than 4 bytes', async () => {
    const g = guarded(1 << 30);
    g.wire.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
    await tick();
    expect(g.violations.map((v) => v[0])).toEqual(['malformed_length']);
  });

  it('writes acknowledgments queued together in one socket write', async () => {
    const g = guarded(100);
    const writes: Buffer[] = [];
    const out = g.guard.socket as unknown as { write: (c: Buffer, cb: () => void) => boolean };
    out.write = (c: Buffer, cb: () => void) => {
      writes.push(c);
      setImmediate(cb);
      return true;
    };
    g.guard.cork();
    for (let i = 0; i < 5; i++) g.guard.write(Buffer.from([0x40, 0x02, 0x00, i])); // PUBACKs
    g.guard.uncork();
    await tick();
    expect(writes.length).toBe(1);
    expect(writes[0]!.length).toBe(20);
  });

  it('checks the second packet of a chunk too', async () => {
    const g = guarded(100);
    g.wire.write(Buffer.concat([Buffer.from([0xc0, 0x00]), Buffer.from([0x30, 0x7f])]));
    await tick();
    expect(g.violations).toEqual([['oversize', 129]]);
  });
});
