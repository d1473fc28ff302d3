import { Duplex, PassThrough } from 'node:stream';
import { Aedes } from 'aedes';
import { describe, expect, it } from 'vitest';
import { PacketSizeScanner, guardClient, type GuardViolation } from '../../../edge/ingress/packet-guard.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('packet size scanner', () => {
  it('passes packets however they are split', () => {
    const scanner = new PacketSizeScanner(1000);
    // PINGREQ (c0 00), then a PUBLISH with a 200-byte body (length as a 2-byte varint: c8 01).
    const publish = Buffer.concat([Buffer.from([0x30, 0xc8, 0x01]), Buffer.alloc(200, 7)]);
    const all = Buffer.concat([Buffer.from([0xc0, 0x00]), publish, Buffer.from([0xc0, 0x00])]);
    for (let i = 0; i < all.length; i += 7) expect(scanner.scan(all.subarray(i, i + 7))).toBeUndefined();
  });

  it('refuses a packet declaring more than the limit from its header alone', () => {
    expect(new PacketSizeScanner(1000).scan(Buffer.from([0x30, 0xe9, 0x07]))).toEqual({ violation: 'oversize', declaredBytes: 1004 }); // remaining length 1001
  });

  it('refuses a length field longer than 4 bytes', () => {
    expect(new PacketSizeScanner(1 << 30).scan(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))?.violation).toBe('malformed_length');
  });

  it('checks the second packet of a chunk too', () => {
    expect(new PacketSizeScanner(100).scan(Buffer.concat([Buffer.from([0xc0, 0x00]), Buffer.from([0x30, 0x7f])]))).toEqual({ violation: 'oversize', declaredBytes: 129 });
  });
});

describe('guardClient on a real aedes client', () => {
  /** A connection whose incoming bytes are what the test writes to `wire`. */
  async function connection(max: number) {
    const broker = await Aedes.createBroker();
    const wire = new PassThrough();
    const conn = Duplex.from({ readable: wire, writable: new PassThrough() });
    const client = broker.handle(conn);
    const violations: [GuardViolation, number][] = [];
    guardClient(client, max, (v, n) => violations.push([v, n]));
    const errors: Error[] = [];
    broker.on('clientError', (_c, err) => errors.push(err));
    broker.on('connectionError', (_c, err) => errors.push(err));
    return { broker, wire, conn, violations, errors };
  }

  it('destroys the connection before the parser sees an oversize packet', async () => {
    const c = await connection(1000);
    c.wire.write(Buffer.from([0x10, 0xe9, 0x07])); // CONNECT declaring 1004 bytes
    await tick();
    await tick();
    expect(c.violations).toEqual([['oversize', 1004]]);
    expect(c.conn.destroyed).toBe(true);
    await new Promise<void>((r) => c.broker.close(() => r()));
  });

  it('lets packets under the limit through to the parser', async () => {
    const c = await connection(1000);
    // A CONNECT with protocol level 9: the parser must see it and refuse it (the guard has no opinion).
    const body = Buffer.from([0x00, 0x04, ...Buffer.from('MQTT'), 0x09, 0x02, 0x00, 0x3c, 0x00, 0x01, 0x61]);
    c.wire.write(Buffer.concat([Buffer.from([0x10, body.length]), body]));
    await tick();
    await tick();
    expect(c.violations).toEqual([]);
    expect(c.errors.length).toBeGreaterThan(0); // the parser's own refusal
    await new Promise<void>((r) => c.broker.close(() => r()));
  });

  it('fails loudly on an aedes without client._parser', () => {
    expect(() => guardClient({ conn: { destroy: () => undefined } } as never, 10, () => undefined)).toThrow(/_parser/);
  });
});
