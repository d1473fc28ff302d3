import { describe, expect, it } from 'vitest';
import { EnvelopeDedup, encodeEnvelopeHeaders } from '../../../shared/envelope/index.js';

const h = (offset: number, over: { gatewayId?: string; edgeLog?: string; edgeLane?: string; edgePartition?: number } = {}) =>
  encodeEnvelopeHeaders({ gatewayId: over.gatewayId ?? 'gw', edgeLog: over.edgeLog ?? 'aaaaaaaaaaaaaaaa', edgeLane: over.edgeLane ?? 'normal', edgePartition: over.edgePartition ?? 0, edgeOffset: BigInt(offset), schemaVersion: 1, ingestTs: 1 });

describe('EnvelopeDedup', () => {
  it('drops re-sent copies (offsets at or below the mark), keeps gaps and other edge partitions, lanes, gateways', () => {
    const d = new EnvelopeDedup();
    const seen = (p: number, headers: ReturnType<typeof h>) => d.isDuplicate('t', p, headers);
    expect([0, 1, 2].map((o) => seen(0, h(o)))).toEqual([false, false, false]);
    expect([1, 2].map((o) => seen(0, h(o)))).toEqual([true, true]); // re-sent after a lost ack
    expect(seen(0, h(7))).toBe(false); // a gap is normal
    expect(seen(0, h(1, { edgePartition: 1 }))).toBe(false);
    expect(seen(0, h(1, { edgeLane: 'critical' }))).toBe(false);
    expect(seen(0, h(1, { gatewayId: 'gw2' }))).toBe(false);
    expect(seen(0, h(0, { edgeLog: 'bbbbbbbbbbbbbbbb' }))).toBe(false); // a new log (a re-imaged gateway): offsets start again
    expect(seen(1, h(1))).toBe(false); // another Kafka partition has its own marks
    expect(d.isDuplicate('t', 0, { 'some-header': 'x' })).toBe(false); // not from a gateway
    expect(d.duplicates).toBe(2);
  });

  it('snapshot/restore carries the marks across a restart; forget drops a revoked partition', () => {
    const d = new EnvelopeDedup();
    d.isDuplicate('t', 0, h(5));
    d.isDuplicate('t', 1, h(9));
    const again = new EnvelopeDedup();
    again.restore(JSON.parse(JSON.stringify(d.snapshot())) as Record<string, string>);
    expect(again.isDuplicate('t', 0, h(5))).toBe(true);
    again.forget('t', 0);
    expect(again.isDuplicate('t', 0, h(5))).toBe(false);
    expect(again.isDuplicate('t', 1, h(9))).toBe(true);
  });
});
