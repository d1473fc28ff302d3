import { createHash } from 'node:crypto';
import { z } from 'zod';
import { VEHICLE_ID_PATTERN } from '../schema/index.js';

/**
 * Alert events: what the hot path writes to `roadlog.alerts.v1` (key = alertId, value = this
 * JSON, UTF-8). An alert is an episode of one rule on one vehicle (or one gateway): opened,
 * updated while it lasts, cleared; an operator may acknowledge it or clear it by hand. Each
 * change is one event carrying the episode's whole current state, so the latest event of an
 * alertId is the alert (a compacted view, the console, `roadlog alerts list` read it that way).
 *
 * alertId is deterministic: a hash of (vehicleId or gateway, rule, subject, device time of the
 * record that opened the episode), so a replay or a backtest over the same records yields the
 * same ids.
 */

/** The simulator's fault vocabulary; rules may name others. */
export const KNOWN_CATEGORIES = ['overheating', 'oil_leak', 'low_battery', 'harsh_braking', 'dtc', 'stuck_sensor', 'gps_jump', 'silent', 'gateway_offline'] as const;

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const ALERT_STATES = ['open', 'ack', 'cleared'] as const;
export type AlertState = (typeof ALERT_STATES)[number];

/** Who changed an alert by hand, and when (wall time ms): acks and manual clears. */
export const OperatorActionSchema = z.object({ by: z.string().min(1).max(128), at: z.number().int(), note: z.string().max(1000).optional() }).strict();

export const AlertEventSchema = z
  .object({
    /** 32 hex digits; see alertIdOf. */
    alertId: z.string().regex(/^[0-9a-f]{32}$/),
    /** The vehicle; for a gateway-wide alert (`gateway_offline`), empty. */
    vehicleId: z.string().regex(VEHICLE_ID_PATTERN).or(z.literal('')),
    gatewayId: z.string(),
    /** The rule's id in the rule pack. */
    rule: z.string().min(1),
    /** What within the rule: the trouble code, the stuck field; empty when the rule has one subject. */
    subject: z.string(),
    category: z.string().min(1),
    severity: z.enum(SEVERITIES),
    state: z.enum(ALERT_STATES),
    /** What this event is: the episode opened, its value changed, it cleared by itself, or an operator acted. */
    change: z.enum(['opened', 'updated', 'cleared', 'acked', 'operator-cleared']),
    /** Device time (ms) of the record that opened the episode (absence: the moment the silence reached its limit). */
    openedAt: z.number().int(),
    /** Device time (ms) the condition ended; null while it lasts (also after an operator's clear). */
    clearedAt: z.number().int().nullable(),
    /** Wall time (ms) the hot path produced this event. */
    detectedAt: z.number().int(),
    /** The signal's value (for a count: the count; for a trouble code: 1); null where there is none. */
    value: z.number().nullable(),
    /** The limit it crossed; null where there is none (a trouble code). */
    threshold: z.number().nullable(),
    /** Human-readable: `coolantC 112.4 > 110`. */
    message: z.string(),
    /** Raised from records that reached the hot path late (a vehicle's offline buffer, a gateway's backlog). */
    late: z.boolean(),
    /** How late, ms: behind its gateway's other vehicles in device time, or waiting at the edge in wall time, whichever is more. */
    lateByMs: z.number().int().min(0),
    ack: OperatorActionSchema.nullable(),
    operatorClear: OperatorActionSchema.nullable(),
  })
  .strict();

export type AlertEvent = z.infer<typeof AlertEventSchema>;

/** (vehicleId or gateway, rule, subject, opening device time) → 32 hex digits (SHA-256, truncated). */
export function alertIdOf(scope: string, rule: string, subject: string, openedAt: number): string {
  return createHash('sha256').update(`${scope}\u0000${rule}\u0000${subject}\u0000${openedAt}`).digest('hex').slice(0, 32);
}

/** The alert event contract as JSON Schema (draft 2020-12). */
export function alertJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(AlertEventSchema, { target: 'draft-2020-12' }) as Record<string, unknown>;
  return { $id: 'urn:roadlog:schema:alert-event:v1', title: 'roadlog alert event v1', description: 'One change of an alert, on topic roadlog.alerts.v1 keyed by alertId.', ...schema };
}

/**
 * An operator's command, on `roadlog.alert-commands.v1` (key = the alert's vehicleId, or
 * `gateway:{id}` for a gateway alert, so it reaches the hot path instance that owns it). The
 * hot path answers with an alert event (`acked`, `operator-cleared`) carrying who and when, or
 * ignores a command for an alert that is not open (counted).
 */
export const AlertCommandSchema = z
  .object({
    v: z.literal(1),
    alertId: z.string().regex(/^[0-9a-f]{32}$/),
    action: z.enum(['ack', 'clear']),
    by: z.string().min(1).max(128),
    /** Wall time ms of the operator's action. */
    at: z.number().int(),
    note: z.string().max(1000).optional(),
  })
  .strict();

export type AlertCommand = z.infer<typeof AlertCommandSchema>;

/** The key of a command (and the record key its partition follows). */
export function commandKeyOf(alert: Pick<AlertEvent, 'vehicleId' | 'gatewayId'>): string {
  return alert.vehicleId === '' ? `gateway:${alert.gatewayId}` : alert.vehicleId;
}
