import fc from 'fast-check';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { compileAcceptor } from '../../../shared/schema/acceptor.js';
import { TelemetryV1Schema, exampleTelemetry, parseTelemetry, validateTelemetry } from '../../../shared/schema/index.js';

const accept = compileAcceptor(TelemetryV1Schema)!;
const FIELDS = Object.keys(exampleTelemetry());

/** Values near each field's limits, of every JSON type, and what JSON.parse can make (1e999 = Infinity). */
const nasty = fc.oneof(
  fc.constantFrom(0, -0, 1, -1, 0.5, 32, 33, 50, -50, 60, 100, 400, 12_000, 1_500, 10_000_000, 946_684_800_000, 4_102_444_800_000, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, Infinity, -Infinity, NaN, 1e-300),
  fc.double(),
  fc.integer(),
  fc.constantFrom('', 'VH-1', '-x', 'a'.repeat(64), 'a'.repeat(65), 'P0217', 'p0217', 'X0000', 'P0217 ', '1', 'true', '__proto__'),
  fc.string(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.array(fc.constantFrom('P0217', 'C1234', 'bad', 7 as unknown as string), { maxLength: 40 }),
  fc.constantFrom({}, { lat: 1, lon: 2 }, { lat: 91, lon: 0 }, { lat: 1, lon: 2, alt: 3 }, { lat: 1 }, []),
);

/** A valid record with some fields replaced, removed or added. */
const mutated = fc
  .record({
    base: fc.record({ seq: fc.nat(), speedKph: fc.double({ min: 0, max: 400, noNaN: true }), dtcs: fc.array(fc.constantFrom('P0217', 'U0100', 'B1000'), { maxLength: 32 }) }),
    replace: fc.dictionary(fc.constantFrom(...FIELDS), nasty, { maxKeys: 3 }),
    remove: fc.subarray(FIELDS, { maxLength: 2 }),
    add: fc.dictionary(fc.oneof(fc.constantFrom('x', 'speedKmh', 'constructor', 'toString', '__proto__'), fc.string()), nasty, { maxKeys: 2 }),
  })
  .map(({ base, replace, remove, add }) => {
    const record: Record<string, unknown> = { ...exampleTelemetry(base), ...replace };
    for (const f of remove) delete record[f];
    for (const [k, v] of Object.entries(add)) Object.defineProperty(record, k, { value: v, enumerable: true, configurable: true, writable: true });
    // Through JSON, as the agent sees it (undefined fields vanish, -0 becomes 0, NaN null).
    return Math.random() < 0.5 ? record : (JSON.parse(JSON.stringify(record)) as Record<string, unknown>);
  });

describe('the acceptor compiled from the telemetry zod schema', () => {
  it('accepts only what zod accepts, and zod returns it unchanged', () => {
    let accepted = 0;
    fc.assert(
      fc.property(mutated, (record) => {
        if (!accept(record)) return;
        accepted++;
        const zod = TelemetryV1Schema.safeParse(record);
        expect(zod.success).toBe(true);
        expect(zod.data).toStrictEqual(record);
      }),
      { numRuns: 20_000 },
    );
    expect(accepted).toBeGreaterThan(100); // the property was exercised, not vacuously true
  });

  it('accepts valid records (the fast path is taken)', () => {
    fc.assert(
      fc.property(fc.nat(), fc.double({ min: -50, max: 50, noNaN: true }), fc.array(fc.constantFrom('P0217', 'C0035'), { maxLength: 32 }), (seq, longAccelMps2, dtcs) => {
        const record = exampleTelemetry({ seq, longAccelMps2, dtcs });
        expect(TelemetryV1Schema.safeParse(record).success).toBe(true);
        expect(accept(record)).toBe(true);
      }),
    );
  });

  it('says no to each kind of invalid record zod refuses', () => {
    const ok = exampleTelemetry();
    const bad: Record<string, unknown>[] = [
      { ...ok, extra: 1 },
      { ...ok, seq: 1.5 },
      { ...ok, seq: -1 },
      { ...ok, speedKph: 400.1 },
      { ...ok, speedKph: Infinity },
      { ...ok, v: 2 },
      { ...ok, vehicleId: 'a/b' },
      { ...ok, dtcs: ['P0217', 'nope'] },
      { ...ok, dtcs: Array.from({ length: 33 }, () => 'P0217') },
      { ...ok, position: { lat: 1, lon: 2, alt: 3 } },
      { ...ok, position: null },
      Object.assign(Object.create({ inherited: 1 }) as object, ok),
    ];
    const { seq: _seq, ...missing } = ok;
    bad.push(missing);
    for (const record of bad) {
      expect(accept(record)).toBe(false);
      expect(TelemetryV1Schema.safeParse(record).success).toBe(false);
    }
  });

  it('is strict where the telemetry limits would not catch it', () => {
    const open = compileAcceptor(z.object({ a: z.number(), s: z.string() }).strict())!;
    expect(open({ a: 1, s: '' })).toBe(true);
    for (const a of [Infinity, -Infinity, NaN]) expect(open({ a, s: '' })).toBe(false);
    // A polluted Object.prototype must not fill in a missing field.
    const { seq: _seq, ...missing } = exampleTelemetry();
    let polluted: boolean;
    Object.defineProperty(Object.prototype, 'seq', { value: 1, enumerable: false, configurable: true, writable: true });
    try {
      polluted = accept(missing);
    } finally {
      delete (Object.prototype as Record<string, unknown>).seq;
    }
    expect(polluted).toBe(false);
  });

  it('is not made for schemas whose output differs from the input or that it does not understand', () => {
    expect(compileAcceptor(z.object({ a: z.number() }))).toBeUndefined(); // strips unknown keys
    expect(compileAcceptor(z.object({ a: z.number().optional() }).strict())).toBeUndefined();
    expect(compileAcceptor(z.object({ a: z.number().default(1) }).strict())).toBeUndefined();
    expect(compileAcceptor(z.object({ a: z.string().transform((s) => s.length) }).strict())).toBeUndefined();
    expect(compileAcceptor(z.object({ a: z.number().refine((n) => n !== 3) }).strict())).toBeUndefined();
    expect(compileAcceptor(z.object({ a: z.union([z.number(), z.string()]) }).strict())).toBeUndefined();
    expect(compileAcceptor(z.object({ a: z.string().email() }).strict())).toBeUndefined();
    expect(compileAcceptor(z.object({ a: z.number().multipleOf(2) }).strict())).toBeUndefined();
    // Constraints zod 4 keeps on the schema itself, not in its checks.
    for (const a of [z.int(), z.int32(), z.uint32(), z.float32(), z.email(), z.uuid(), z.hex(), z.iso.datetime()]) {
      expect(compileAcceptor(z.object({ a }).strict() as z.ZodType)).toBeUndefined();
    }
    expect(compileAcceptor(z.object({ a: z.number().min(1) }).strict())).toBeTypeOf('function');
  });

  it('leaves the error report to zod', () => {
    const result = parseTelemetry(Buffer.from(JSON.stringify({ ...exampleTelemetry(), speedKph: 999 })));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toContain('speedKph');
    expect(validateTelemetry(exampleTelemetry())).toMatchObject({ ok: true, version: 1 });
  });
});
