import { describe, expect, it } from 'vitest';
import { renderServerProperties, type NodePlan } from '../../../infra/kafka/config.js';

const props = (text: string): Map<string, string> => new Map(text.split('\n').filter((l) => l.includes('=') && !l.startsWith('#')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
const node: NodePlan = { nodeId: 1, port: 9092, controllerPort: 9093, securePort: 9094, nodeDir: '/k/node-1' };
const secure = { keystoreFile: '/k/secure/broker.p12', keystorePassword: 'ks-pw', username: 'roadlog', password: 'user-pw' };

describe('server.properties', () => {
  it('plain: PLAINTEXT and CONTROLLER listeners only, even with a secure port planned', () => {
    const p = props(renderServerProperties(node, [node]));
    expect(p.get('listeners')).toBe('PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093');
    expect(p.get('listener.security.protocol.map')).toBe('PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT');
    expect([...p.keys()].some((k) => k.includes('sasl'))).toBe(false);
  });

  it('secure: a SASL_SSL client listener with SCRAM-SHA-512/256 and PLAIN; brokers and controllers keep PLAINTEXT', () => {
    const p = props(renderServerProperties(node, [node], secure));
    expect(p.get('listeners')).toBe('PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:9094,CONTROLLER://127.0.0.1:9093');
    expect(p.get('advertised.listeners')).toBe('PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:9094');
    expect(p.get('listener.security.protocol.map')).toBe('PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT');
    expect(p.get('inter.broker.listener.name')).toBe('PLAINTEXT');
    expect(p.get('sasl.enabled.mechanisms')).toBe('SCRAM-SHA-512,SCRAM-SHA-256,PLAIN');
    expect(p.get('listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config')).toBe('org.apache.kafka.common.security.scram.ScramLoginModule required;');
    expect(p.get('listener.name.sasl_ssl.plain.sasl.jaas.config')).toBe('org.apache.kafka.common.security.plain.PlainLoginModule required user_roadlog="user-pw";');
    expect(p.get('listener.name.sasl_ssl.ssl.keystore.location')).toBe('/k/secure/broker.p12');
    expect(p.get('listener.name.sasl_ssl.ssl.keystore.type')).toBe('PKCS12');
  });
});
