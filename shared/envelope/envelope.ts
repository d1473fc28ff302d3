/**
 * The record envelope: how a telemetry record travels from the edge log to Kafka.
 *
 *   key     = vehicleId (UTF-8), so one vehicle's records stay in order in one partition
 *   value   = the telemetry JSON exactly as the vehicle sent it (UTF-8)
 *   headers = where the record came from, so any consumer can drop a re-sent duplicate:
 *     roadlog.gateway          gateway id
 *     roadlog.edge.log         the edge log's own random id (16 hex digits), made when the log was created
 *     roadlog.edge.lane        edge log lane (critical, normal, dead): each lane numbers its own offsets
 *     roadlog.edge.partition   edge log partition, decimal
 *     roadlog.edge.offset      edge log offset, decimal (may exceed 2^53: kept as bigint)
 *     roadlog.schema           telemetry schema version, decimal
 *     roadlog.ingest.ts        gateway wall clock when the record was appended, ms since epoch
 *
 * (gateway, edge log, edge lane, edge partition, edge offset) identifies a record uniquely and
 * for ever: the forwarder re-sends a record with the same values after a crash, never new ones,
 * and a new log (a re-imaged gateway, two gateways given one name) has a new log id.
 */
export const HEADER = Object.freeze({
  gateway: 'roadlog.gateway',
  edgeLog: 'roadlog.edge.log',
  edgeLane: 'roadlog.edge.lane',
  edgePartition: 'roadlog.edge.partition',
  edgeOffset: 'roadlog.edge.offset',
  schema: 'roadlog.schema',
  ingestTs: 'roadlog.ingest.ts',
});

/**
 * Header names on dead-letter records: why the record was refused (a reason word and an error
 * code with its message), and for a gateway's refusals the MQTT topic and client. The edge
 * agent writes them (its forwarder copies them to the dead-letter topic); the archiver writes
 * them for a record on the telemetry topic it cannot read, with the Kafka coordinates.
 */
export const DEAD_LETTER_HEADER = Object.freeze({
  reason: 'roadlog.dlq.reason',
  code: 'roadlog.dlq.code',
  message: 'roadlog.dlq.message',
  topic: 'roadlog.mqtt.topic',
  clientId: 'roadlog.mqtt.client',
  sourceTopic: 'roadlog.source.topic',
  sourcePartition: 'roadlog.source.partition',
  sourceOffset: 'roadlog.source.offset',
});

export interface Envelope {
  gatewayId: string;
  edgeLog: string;
  edgeLane: string;
  edgePartition: number;
  edgeOffset: bigint;
  schemaVersion: number;
  ingestTs: number;
}

export type RecordHeaders = Record<string, Buffer | string | (Buffer | string)[] | undefined>;

export function encodeEnvelopeHeaders(env: Envelope): Record<string, string> {
  return {
    [HEADER.gateway]: env.gatewayId,
    [HEADER.edgeLog]: env.edgeLog,
    [HEADER.edgeLane]: env.edgeLane,
    [HEADER.edgePartition]: String(env.edgePartition),
    [HEADER.edgeOffset]: env.edgeOffset.toString(),
    [HEADER.schema]: String(env.schemaVersion),
    [HEADER.ingestTs]: String(env.ingestTs),
  };
}

function headerText(headers: RecordHeaders | undefined, name: string): string | undefined {
  const raw = headers?.[name];
  const value = Array.isArray(raw) ? raw[0] : raw;
  return value === undefined ? undefined : value.toString();
}

/** Read the envelope back; undefined when a header is missing or malformed (not from a roadlog gateway). */
export function decodeEnvelopeHeaders(headers: RecordHeaders | undefined): Envelope | undefined {
  const gatewayId = headerText(headers, HEADER.gateway);
  const edgeLog = headerText(headers, HEADER.edgeLog);
  const lane = headerText(headers, HEADER.edgeLane);
  const partition = headerText(headers, HEADER.edgePartition);
  const offset = headerText(headers, HEADER.edgeOffset);
  const schema = headerText(headers, HEADER.schema);
  const ingest = headerText(headers, HEADER.ingestTs);
  if (gatewayId === undefined || edgeLog === undefined || !/^[0-9a-f]{1,32}$/.test(edgeLog) || lane === undefined || !/^[a-z]{1,16}$/.test(lane) || partition === undefined || offset === undefined || schema === undefined || ingest === undefined) return undefined;
  if (!/^\d{1,9}$/.test(partition) || !/^\d{1,20}$/.test(offset) || !/^\d{1,9}$/.test(schema) || !/^\d{1,16}$/.test(ingest)) return undefined;
  return { gatewayId, edgeLog, edgeLane: lane, edgePartition: Number(partition), edgeOffset: BigInt(offset), schemaVersion: Number(schema), ingestTs: Number(ingest) };
}

/** The dedup key: equal for a record and any re-sent copy of it, different for any other record. */
export function dedupKey(env: Pick<Envelope, 'gatewayId' | 'edgeLog' | 'edgeLane' | 'edgePartition' | 'edgeOffset'>): string {
  return `${env.gatewayId}\u0000${env.edgeLog}\u0000${env.edgeLane}\u0000${env.edgePartition}\u0000${env.edgeOffset.toString()}`;
}
