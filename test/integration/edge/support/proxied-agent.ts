import { connect } from 'node:net';
import { expect } from 'vitest';
import { KafkaClientOptionsSchema } from '../../../../shared/kafka/index.js';
import { TopicsOptionsSchema } from '../../../../shared/topics/index.js';
import { runCli } from '../../../support/cli.js';
import { FaultProxy } from '../../../support/fault-proxy.js';
import { randomName } from '../../../support/kafka.js';
import { startAgent, type TestAgent } from '../../../edge/ingress/support/agent.js';

/**
 * An edge agent (in this process) whose every Kafka connection, whatever address the metadata
 * names, goes through a FaultProxy in front of the first broker; its topics under a fresh prefix.
 * Short Kafka timeouts and a quick forwarder retry, so faults show within a test's time.
 */
export async function startProxiedAgent(brokers: string, env: Record<string, string>, gatewayId: string): Promise<TestAgent & { prefix: string; proxy: FaultProxy }> {
  const prefix = randomName(gatewayId.replace(/[^a-z]/g, ''));
  const apply = await runCli(['topics', 'apply', '--prefix', prefix], { env });
  expect(apply.code, apply.stderr).toBe(0);
  const first = brokers.split(',')[0]!;
  const [host, port] = first.split(':') as [string, string];
  const proxy = new FaultProxy({ host, port: Number(port) });
  const proxyPort = await proxy.listen();
  const agent = await startAgent(
    { gatewayId, mqtt: { allowAnonymous: true }, forwarder: { retry: { initialMs: 20, maxMs: 1_000 }, ackTimeoutMs: 5_000 } },
    {
      kafka: {
        client: KafkaClientOptionsSchema.parse({ brokers: [first], requestTimeoutMs: 3_000, connectionTimeoutMs: 1_000, operationTimeoutMs: 5_000 }),
        topics: TopicsOptionsSchema.parse({ prefix }),
        overrides: { socketFactory: ({ onConnect }) => connect({ host: '127.0.0.1', port: proxyPort }, onConnect) },
      },
    },
  );
  const close = agent.close;
  return { ...agent, prefix, proxy, close: async () => (await close(), await proxy.close()) };
}
