import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { positionKey } from '../../../edge/log/cursor.js';
import type { EdgeLog } from '../../../edge/log/log.js';
import { LANES } from '../../../edge/log/options.js';
import type { LogReader } from '../../../edge/log/reader.js';
import type { SimulatedFileLayer } from './support/simulated-file-layer.js';
import { machine, simulatedLog } from './support/log.js';

/**
 * Model-based test with simulated power loss. Random sequences of append (awaited bursts, some
 * on a nearly full disk, where the refused ones must never show up),
 * read, commit, retention and crash (a power cut that drops everything not fsynced, with or
 * without torn writes, optionally in the middle of a burst of appends). After every crash and
 * reopen the log must hold exactly the model's durable state: every acknowledged record, in
 * order, nothing wrong, nothing unread deleted; the cursor exactly as last committed.
 */
const OPTIONS = {
  partitions: 2,
  segmentBytes: 1024,
  allowSmallSegments: true,
  indexIntervalBytes: 128,
  maxBatchDelayMs: 1,
  retention: { maxBytes: 3000, checkIntervalMs: 2 ** 31 - 1 },
};

type Op =
  | { kind: 'append'; n: number; critical: number; size: number; room?: number }
  | { kind: 'read'; max: number }
  | { kind: 'commit' }
  | { kind: 'retention' }
  | { kind: 'crash'; torn: boolean; inFlight: number; ticks: number; seed: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('append' as const), n: fc.integer({ min: 1, max: 12 }), critical: fc.integer({ min: 0, max: 3 }), size: fc.integer({ min: 1, max: 180 }) }) },
  // An append burst on a nearly full disk (reject policy): some appends fail with LOG_FULL and must never show up.
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('append' as const), n: fc.integer({ min: 1, max: 12 }), critical: fc.integer({ min: 0, max: 3 }), size: fc.integer({ min: 1, max: 180 }), room: fc.integer({ min: 0, max: 1500 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('read' as const), max: fc.integer({ min: 1, max: 30 }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'commit' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'retention' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('crash' as const), torn: fc.boolean(), inFlight: fc.integer({ min: 0, max: 10 }), ticks: fc.integer({ min: 0, max: 6 }), seed: fc.integer() }) },
);

class Model {
  /** Every record ever made durable, by offset, per `${lane}/${partition}`. */
  records = new Map<string, string[]>();
  committed: Record<string, number> = {};
  position: Record<string, number> = {};
  list(k: string): string[] {
    let l = this.records.get(k);
    if (l === undefined) this.records.set(k, (l = []));
    return l;
  }
}

const text = (v: Uint8Array) => Buffer.from(v).toString();

async function checkAgainstModel(log: EdgeLog, model: Model, inFlight: Map<string, string[]>, acked: Set<string>): Promise<void> {
  for (const lane of LANES) {
    for (let p = 0; p < OPTIONS.partitions; p++) {
      const k = positionKey(lane, p);
      const part = log.partition(lane, p);
      const durable = model.list(k);
      // Start: retention may only have deleted what the cursor committed.
      expect(part.startOffset).toBeLessThanOrEqual(model.committed[k] ?? 0);
      const got: string[] = [];
      let next = part.startOffset;
      for (;;) {
        const r = await part.read(next, { maxRecords: 1000, maxBytes: 1 << 30 });
        expect(r.skipped).toEqual([]);
        r.records.forEach((rec, i) => expect(rec.offset).toBe(next + i));
        got.push(...r.records.map((rec) => text(rec.value)));
        if (r.nextOffset === next) break;
        next = r.nextOffset;
      }
      const base = durable.slice(part.startOffset);
      expect(got.slice(0, base.length)).toEqual(base);
      // Beyond the durable state: only a prefix of the appends in flight at the crash, and every acknowledged one.
      const extra = got.slice(base.length);
      const flying = inFlight.get(k) ?? [];
      expect(extra).toEqual(flying.slice(0, extra.length));
      for (const v of flying.slice(extra.length)) expect(acked.has(v)).toBe(false);
      durable.push(...extra);
    }
  }
  expect(log.cursors().get('fwd') ?? {}).toEqual(model.committed);
}

describe('edge log under simulated power loss (model-based)', () => {
  it('after every crash the log equals the model’s durable state', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
        let fs: SimulatedFileLayer = await machine();
        let log = (await simulatedLog(OPTIONS, { fileLayer: fs })).log;
        let reader: LogReader = await log.openReader('fwd');
        const model = new Model();
        let uid = 0;
        const keyOf = (i: number) => `veh-${i % 6}`;
        for (const op of ops) {
          if (op.kind === 'append') {
            const inputs = Array.from({ length: op.n }, (_, i) => ({ key: keyOf(uid + i), value: `${uid + i}:`.padEnd(op.size, '~'), critical: i < op.critical }));
            uid += op.n;
            if (op.room !== undefined) fs.capacityBytes = fs.usedBytes() + op.room;
            const settled = await Promise.allSettled(inputs.map((x) => log.append(x)));
            fs.capacityBytes = undefined;
            settled.forEach((s, i) => {
              if (s.status === 'rejected') {
                expect(s.reason).toMatchObject({ code: 'ROADLOG_ERR_LOG_FULL' });
                expect(op.room).toBeDefined();
                return;
              }
              const l = model.list(positionKey(s.value.lane, s.value.partition));
              expect(s.value.offset).toBe(l.length);
              l.push(inputs[i]!.value);
            });
          } else if (op.kind === 'read') {
            const b = await reader.read({ maxRecords: op.max });
            expect(b.skipped).toEqual([]);
            for (const rec of b.records) {
              const k = positionKey(rec.lane, rec.partition);
              expect(rec.offset).toBe(model.position[k] ?? 0);
              expect(text(rec.value)).toBe(model.list(k)[rec.offset]);
              model.position[k] = rec.offset + 1;
            }
          } else if (op.kind === 'commit') {
            await reader.commit();
            model.committed = { ...model.committed, ...model.position };
          } else if (op.kind === 'retention') {
            await log.runRetention();
          } else {
            // Power cut, possibly while a burst of appends is being written.
            const inFlight = new Map<string, string[]>();
            const acked = new Set<string>();
            const flying: Promise<unknown>[] = [];
            for (let i = 0; i < op.inFlight; i++) {
              const input = { key: keyOf(uid), value: `${uid}:inflight`, critical: i % 4 === 0 };
              uid++;
              const lane = input.critical ? 'critical' : 'normal';
              const { partitionForKey } = await import('../../../shared/partitioner/index.js');
              const k = positionKey(lane, partitionForKey(input.key, OPTIONS.partitions));
              inFlight.set(k, [...(inFlight.get(k) ?? []), input.value]);
              flying.push(log.append(input).then(() => acked.add(input.value), () => undefined));
            }
            for (let t = 0; t < op.ticks; t++) await new Promise((r) => setImmediate(r));
            let s = op.seed >>> 0;
            const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
            const ackedAtCrash = new Set(acked);
            fs = fs.crash(op.torn ? { torn: rand } : {});
            await Promise.allSettled(flying);
            log = (await simulatedLog(OPTIONS, { fileLayer: fs })).log;
            await checkAgainstModel(log, model, inFlight, ackedAtCrash);
            reader = await log.openReader('fwd');
            model.position = { ...model.committed };
          }
        }
        await log.close();
      }),
      { numRuns: 150 * Number(process.env.ROADLOG_FAULT_SCALE ?? 1) },
    );
  }, 60_000 * Number(process.env.ROADLOG_FAULT_SCALE ?? 1));
});
