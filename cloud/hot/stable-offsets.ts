import { createRequire } from 'node:module';
import type { Cluster } from 'kafkajs';

/**
 * A group's committed offsets as they stand once every transaction that committed offsets for
 * them has completed: OffsetFetch v7 with `require_stable` (KIP-447), which kafkajs 2.2 does not
 * send (its OffsetFetch stops at v4).
 *
 * Why: a transaction's offsets reach the group coordinator's table only when the transaction's
 * markers do, after EndTxn has answered, and even after a new producer's InitProducerId has
 * returned the coordinator may answer an ordinary OffsetFetch from the table of a moment before
 * (measured against Kafka 4.4: 12 of 200 reads right after `commit()` returned the previous offset;
 * 2 of 1,200 even after a new InitProducerId). A hot-path partition that took such a stale offset
 * would evaluate its last transaction's records again and publish its alert events twice. With
 * `require_stable` the coordinator answers UNSTABLE_OFFSET_COMMIT while an offset commit of an
 * open or completing transaction is pending, and this waits it out.
 *
 * The request goes over the group coordinator's kafkajs connection (authentication and TLS
 * included), written the way kafkajs writes its own flexible-version requests.
 */
const require = createRequire(import.meta.url);
// kafkajs's own encoder and decoder (the package has no exports map; these are what its requests use).
const Encoder = require('kafkajs/src/protocol/encoder') as new () => KafkaEncoder;
const Decoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => KafkaDecoder;

interface KafkaEncoder {
  writeUVarIntBytes(v?: Buffer | null): KafkaEncoder;
  writeUVarIntString(v: string | null): KafkaEncoder;
  writeUVarIntArray(a: KafkaEncoder[] | null): KafkaEncoder;
  writeInt32(v: number): KafkaEncoder;
  writeBoolean(v: boolean): KafkaEncoder;
}
interface KafkaDecoder {
  readTaggedFields(): void;
  readInt16(): number;
  readInt32(): number;
  readInt64(): bigint | { toString(): string };
  readUVarIntString(): string | null;
  readUVarIntArray<T>(reader: (d: KafkaDecoder) => T): T[];
}
/** What kafkajs's Broker has beyond its declared type: its versions table and connection pool. */
interface RawBroker {
  versions?: Record<number, { minVersion: number; maxVersion: number } | undefined>;
  connectionPool?: { send(req: unknown): Promise<unknown> };
}

const OFFSET_FETCH = 9;
const UNSTABLE_OFFSET_COMMIT = 88;
const NOT_COORDINATOR = 16;
const COORDINATOR_LOAD_IN_PROGRESS = 14;

export interface StableOffset {
  topic: string;
  partition: number;
  /** −1 when the group has committed nothing there. */
  offset: bigint;
  metadata: string | null;
}

export class StableOffsetsError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

/** One OffsetFetch v7 round: the offsets, or the first partition error code (UNSTABLE_OFFSET_COMMIT among them). */
async function fetchOnce(cluster: Cluster, groupId: string, topics: { topic: string; partitions: number[] }[]): Promise<StableOffset[]> {
  const broker = (await cluster.findGroupCoordinator({ groupId })) as unknown as RawBroker;
  const supported = broker.versions?.[OFFSET_FETCH];
  if (broker.connectionPool === undefined || supported === undefined || supported.maxVersion < 7 || supported.minVersion > 7) {
    throw new StableOffsetsError(`the group coordinator does not take OffsetFetch v7 (it takes ${supported === undefined ? 'none' : `v${supported.minVersion}–v${supported.maxVersion}`}); Kafka 2.5 or later is needed`, -1);
  }
  const request = {
    apiKey: OFFSET_FETCH,
    apiVersion: 7,
    apiName: 'OffsetFetch',
    encode: async () =>
      new Encoder()
        .writeUVarIntBytes() // the request header's tagged fields (flexible versions)
        .writeUVarIntString(groupId)
        .writeUVarIntArray(topics.map((t) => new Encoder().writeUVarIntString(t.topic).writeUVarIntArray(t.partitions.map((p) => new Encoder().writeInt32(p))).writeUVarIntBytes()))
        .writeBoolean(true) // require_stable
        .writeUVarIntBytes(),
  };
  const response = {
    decode: async (raw: Buffer) => {
      const d = new Decoder(raw);
      d.readTaggedFields(); // the response header's
      const clientSideThrottleTime = d.readInt32();
      const parsed = d.readUVarIntArray((t) => {
        const topic = t.readUVarIntString() ?? '';
        const partitions = t.readUVarIntArray((p) => {
          const partition = p.readInt32();
          const offset = BigInt(p.readInt64().toString());
          p.readInt32(); // committed leader epoch
          const metadata = p.readUVarIntString();
          const errorCode = p.readInt16();
          p.readTaggedFields();
          return { topic, partition, offset, metadata, errorCode };
        });
        t.readTaggedFields();
        return partitions;
      });
      const errorCode = d.readInt16();
      return { clientSideThrottleTime, errorCode, offsets: parsed.flat() };
    },
    parse: async (data: unknown) => data,
  };
  const res = (await broker.connectionPool.send({ request, response })) as { errorCode: number; offsets: (StableOffset & { errorCode: number })[] };
  const failed = res.errorCode !== 0 ? res.errorCode : res.offsets.find((o) => o.errorCode !== 0)?.errorCode;
  if (failed !== undefined) throw new StableOffsetsError(`OffsetFetch for group ${groupId}: error code ${failed}`, failed);
  return res.offsets.map(({ topic, partition, offset, metadata }) => ({ topic, partition, offset, metadata }));
}

/**
 * The committed offsets of `groupId` in the given partitions, stable: retried while a
 * transaction's offset commit is pending (or the coordinator moves) until `timeoutMs`.
 */
export async function fetchStableOffsets(cluster: Cluster, groupId: string, topics: { topic: string; partitions: number[] }[], timeoutMs = 120_000): Promise<StableOffset[]> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fetchOnce(cluster, groupId, topics);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      const again = code === UNSTABLE_OFFSET_COMMIT || code === NOT_COORDINATOR || code === COORDINATOR_LOAD_IN_PROGRESS;
      if (!again || Date.now() >= deadline) throw err;
      if (code === NOT_COORDINATOR) await cluster.refreshMetadata().catch(() => undefined);
      await new Promise((r) => setTimeout(r, Math.min(500, 10 * 2 ** Math.min(attempt, 6))));
    }
  }
}
