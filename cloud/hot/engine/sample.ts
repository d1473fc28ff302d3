import type { Envelope } from '../../../shared/envelope/index.js';
import type { Telemetry } from '../../../shared/schema/index.js';

/** One telemetry record as the engine sees it: the payload and where it came from. */
export interface Sample {
  t: Telemetry;
  gatewayId: string;
  /**
   * The stream the record travelled in, from its edge partition to its Kafka partition
   * (`gateway/edge partition/kafka partition`): records of one lane arrive in the order the
   * gateway stored them, so their device times say how far that gateway has got.
   */
  lane: string;
  /** The Kafka partition it was read from: a vehicle's state belongs to its partition's owner. */
  partition: number;
  /** Gateway wall clock when the edge agent stored it (ms); undefined without an envelope. */
  ingestTs?: number;
  /** Wall clock when the hot path read it (ms). */
  arrivedAt: number;
}

/** A rule's verdict on one subject at one sample: active or not, and the figures to show. */
export interface Signal {
  /** The trouble code or the field; '' for single-subject rules. */
  subject: string;
  active: boolean;
  value: number | null;
  threshold: number | null;
  /** Human-readable, built only when an event needs it (`coolantC 112.4 > 110`). */
  describe: () => string;
}

/** The Sample of a telemetry record read from Kafka partition `partition` (its envelope, when it has one, says where it came from). */
export function toSample(t: Telemetry, env: Envelope | undefined, partition: number, arrivedAt: number): Sample {
  const gatewayId = env?.gatewayId ?? 'unknown';
  return {
    t,
    gatewayId,
    lane: env === undefined ? `unknown/-/${partition}` : laneName(gatewayId, env.edgeLane, env.edgePartition, partition),
    partition,
    arrivedAt,
    ...(env === undefined ? {} : { ingestTs: env.ingestTs }),
  };
}

/**
 * `gateway/lane-edgePartition/partition`, the same string object for the same lane: the engine
 * looks lanes up by this name for every record, and a string met before has its hash already
 * (a new one would be joined and hashed each time). A handful of lanes per gateway.
 */
function laneName(gatewayId: string, edgeLane: string, edgePartition: number, partition: number): string {
  let byGateway = laneNames.get(gatewayId);
  if (byGateway === undefined) {
    if (laneNames.size >= MAX_GATEWAYS_NAMED) laneNames.clear();
    laneNames.set(gatewayId, (byGateway = new Map()));
  }
  const laneIndex = LANES.indexOf(edgeLane);
  const key = laneIndex < 0 || edgePartition >= 1 << 12 || partition >= 1 << 16 ? `${edgeLane}-${edgePartition}/${partition}` : (laneIndex * (1 << 12) + edgePartition) * (1 << 16) + partition;
  let name = byGateway.get(key);
  if (name === undefined) byGateway.set(key, (name = `${gatewayId}/${edgeLane}-${edgePartition}/${partition}`));
  return name;
}

const LANES = ['normal', 'critical', 'dead'];
const laneNames = new Map<string, Map<number | string, string>>();
const MAX_GATEWAYS_NAMED = 100_000;
