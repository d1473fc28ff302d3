import { describe, expect, it } from 'vitest';
import { mayPublish, maySubscribe, vehicleOfTopic } from '../../../edge/ingress/identity.js';

describe('topics and ACL', () => {
  it('reads the vehicle from its telemetry topic, and nothing else', () => {
    expect(vehicleOfTopic('fleet/VH-1/telemetry')).toBe('VH-1');
    for (const t of ['fleet/VH-1/telemetry/x', 'fleet/+/telemetry', 'fleet//telemetry', 'fleet/a b/telemetry', 'Fleet/VH-1/telemetry', 'fleet/VH-1/status']) expect(vehicleOfTopic(t), t).toBeUndefined();
  });

  it('lets a vehicle publish only its own telemetry', () => {
    expect(mayPublish('VH-1', 'fleet/VH-1/telemetry')).toEqual({ allowed: true });
    expect(mayPublish('VH-1', 'fleet/VH-2/telemetry')).toEqual({ allowed: false, reason: 'acl_other_vehicle' });
    expect(mayPublish('VH-1', 'fleet/+/telemetry')).toEqual({ allowed: false, reason: 'acl_wildcard' });
    expect(mayPublish('VH-1', '$SYS/broker/uptime')).toEqual({ allowed: false, reason: 'acl_sys' });
    expect(mayPublish('VH-1', 'other/topic')).toEqual({ allowed: false, reason: 'acl_topic' });
  });

  it('lets a vehicle subscribe only below its own level', () => {
    expect(maySubscribe('VH-1', 'fleet/VH-1/commands')).toEqual({ allowed: true });
    expect(maySubscribe('VH-1', 'fleet/VH-1/#')).toEqual({ allowed: true });
    expect(maySubscribe('VH-1', '#')).toMatchObject({ allowed: false, reason: 'acl_wildcard' });
    expect(maySubscribe('VH-1', '$SYS/#')).toMatchObject({ allowed: false, reason: 'acl_sys' });
    expect(maySubscribe('VH-1', 'fleet/#')).toMatchObject({ allowed: false, reason: 'acl_wildcard' });
    expect(maySubscribe('VH-1', 'fleet/+/telemetry')).toMatchObject({ allowed: false, reason: 'acl_wildcard' });
    expect(maySubscribe('VH-1', 'fleet/VH-2/commands')).toMatchObject({ allowed: false, reason: 'acl_other_vehicle' });
    expect(maySubscribe('VH-1', 'fleet/VH-1')).toMatchObject({ allowed: false });
  });
});
