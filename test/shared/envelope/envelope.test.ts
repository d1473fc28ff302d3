import { describe, expect, it } from 'vitest';
import { decodeEnvelopeHeaders, dedupKey, encodeEnvelopeHeaders, HEADER } from '../../../shared/envelope/index.js';

const env = { gatewayId: 'depot-7', edgeLog: '0123456789abcdef', edgeLane: 'normal', edgePartition: 3, edgeOffset: 2n ** 60n + 5n, schemaVersion: 1, ingestTs: 1_767_225_600_123 };

describe('record envelope', () => {
  it('round-trips through Kafka-style headers (Buffers), offsets beyond 2^53 included', () => {
    const headers = Object.fromEntries(Object.entries(encodeEnvelopeHeaders(env)).map(([k, v]) => [k, Buffer.from(v)]));
    expect(decodeEnvelopeHeaders(headers)).toEqual(env);
  });

  it('uses the documented header names', () => {
    expect(Object.keys(encodeEnvelopeHeaders(env)).sort()).toEqual(Object.values(HEADER).sort());
  });

  it('returns undefined for records not from a gateway, or with malformed headers', () => {
    expect(decodeEnvelopeHeaders(undefined)).toBeUndefined();
    expect(decodeEnvelopeHeaders({})).toBeUndefined();
    expect(decodeEnvelopeHeaders({ ...encodeEnvelopeHeaders(env), [HEADER.edgeOffset]: '-1' })).toBeUndefined();
    expect(decodeEnvelopeHeaders({ ...encodeEnvelopeHeaders(env), [HEADER.edgePartition]: 'x' })).toBeUndefined();
  });

  it('gives a re-sent copy the same dedup key and any other record a different one', () => {
    expect(dedupKey(env)).toBe(dedupKey({ ...env }));
    expect(dedupKey(env)).not.toBe(dedupKey({ ...env, edgeOffset: env.edgeOffset + 1n }));
    expect(dedupKey(env)).not.toBe(dedupKey({ ...env, edgePartition: 4 }));
    expect(dedupKey(env)).not.toBe(dedupKey({ ...env, edgeLane: 'critical' }));
    expect(dedupKey(env)).not.toBe(dedupKey({ ...env, edgeLog: 'fedcba9876543210' }));
    expect(dedupKey({ gatewayId: 'a1', edgeLog: 'f', edgeLane: 'normal', edgePartition: 1, edgeOffset: 1n })).not.toBe(dedupKey({ gatewayId: 'a', edgeLog: 'f', edgeLane: 'normal', edgePartition: 11, edgeOffset: 1n }));
  });
});
