import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CLIENT = fileURLToPath(new URL('../../../dist/shared/kafka/index.js', import.meta.url));

/** stderr of a fresh node that maybe creates a Kafka client, then sets a negative timer and warns otherwise. */
function stderrOf(createClient: boolean): Promise<string> {
  const script = `
    const { createKafka } = await import(${JSON.stringify(CLIENT)});
    if (${createClient}) createKafka({ clientId: 't', brokers: ['127.0.0.1:1'], connectionTimeoutMs: 100, requestTimeoutMs: 100, operationTimeoutMs: 100 });
    setTimeout(() => process.emitWarning('still here', 'OtherWarning'), -5);`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], (err, _stdout, stderr) => (err === null ? resolve(stderr) : reject(err)));
  });
}

describe('shared/kafka: negative timer warnings (kafkajs#1751 on Node >= 24)', () => {
  it('a process with a Kafka client prints no TimeoutNegativeWarning, and other warnings still print', async () => {
    const stderr = await stderrOf(true);
    expect(stderr).not.toContain('TimeoutNegativeWarning');
    expect(stderr).toContain('OtherWarning: still here');
  });

  it('without one, Node prints it (so the test above can fail)', async () => {
    expect(await stderrOf(false)).toContain('TimeoutNegativeWarning');
  });
});
