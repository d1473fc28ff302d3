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
  message: string;
}
