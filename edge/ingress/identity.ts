import { VEHICLE_ID_PATTERN } from '../../shared/schema/index.js';

/**
 * Topics and who may use them. A vehicle publishes telemetry on `fleet/{vehicleId}/telemetry`
 * and may publish or subscribe only under `fleet/{its own id}/`: never as another vehicle,
 * never with a wildcard above its own level, never under `$SYS`.
 */
export const TELEMETRY_TOPIC = /^fleet\/([^/+#]+)\/telemetry$/;

export function vehicleOfTopic(topic: string): string | undefined {
  const m = TELEMETRY_TOPIC.exec(topic);
  return m !== null && VEHICLE_ID_PATTERN.test(m[1]!) ? m[1] : undefined;
}

export function isValidVehicleId(id: string): boolean {
  return VEHICLE_ID_PATTERN.test(id);
}

export type AclDecision = { allowed: true } | { allowed: false; reason: 'acl_other_vehicle' | 'acl_wildcard' | 'acl_sys' | 'acl_topic' };

export function mayPublish(vehicleId: string, topic: string): AclDecision {
  if (topic.startsWith('$')) return { allowed: false, reason: 'acl_sys' };
  if (topic.includes('+') || topic.includes('#')) return { allowed: false, reason: 'acl_wildcard' };
  const owner = vehicleOfTopic(topic);
  if (owner === undefined) return { allowed: false, reason: 'acl_topic' };
  return owner === vehicleId ? { allowed: true } : { allowed: false, reason: 'acl_other_vehicle' };
}

export function maySubscribe(vehicleId: string, filter: string): AclDecision {
  if (filter.startsWith('$')) return { allowed: false, reason: 'acl_sys' };
  const levels = filter.split('/');
  if (levels[0] !== 'fleet' || levels[1] === undefined) return { allowed: false, reason: filter.includes('#') || filter.includes('+') ? 'acl_wildcard' : 'acl_topic' };
  if (levels[1] === '+' || levels[1] === '#') return { allowed: false, reason: 'acl_wildcard' };
  return levels[1] === vehicleId && levels.length > 2 ? { allowed: true } : { allowed: false, reason: levels[1] === vehicleId ? 'acl_topic' : 'acl_other_vehicle' };
}
