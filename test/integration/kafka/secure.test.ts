import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCa } from '../../../infra/kafka/certs.js';
import { stopKafkaCluster, type KafkaClusterInfo } from '../../../infra/kafka/cluster.js';
import { runCli } from '../../support/cli.js';
import { randomName, waitFor } from '../../support/kafka.js';
import { connectClient, removeTempDirs, startAgentProcess, tempDir, telemetry, topicOf, type AgentProcess } from '../../edge/ingress/support/agent.js';
import { readBack, waitForEmptyBacklog } from '../edge/support/load.js';

/**
 * The uplink as it crosses the internet: one 1-node `roadlog kafka start --secure` cluster
 * (SASL_SSL with a generated CA; user `roadlog` for SCRAM-SHA-512/256 and PLAIN) for the
 * whole file, started and stopped through the CLI. The edge agent runs as a gateway runs it
 * (`roadlog edge start --config`), and records are read back over the PLAINTEXT listener.
 */
let root: string;
let dir: string;
let env: Record<string, string>;
let info: KafkaClusterInfo;
let secure: NonNullable<KafkaClusterInfo['secure']>;
let password: string;
const prefix = randomName('sec');
const telemetryTopic = `${prefix}.telemetry.v1`;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'roadlog-secure-'));
  dir = join(root, 'kafka');
  env = { ROADLOG_HOME: join(root, 'home'), ROADLOG_LOG_LEVEL: 'error' };
  const start = await runCli(['kafka', 'start', '--secure', '--dir', dir], { env, timeoutMs: 150_000 });
  expect(start.code, start.stderr).toBe(0);
  info = JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as KafkaClusterInfo;
  secure = info.secure!;
  expect(start.stdout.trim()).toBe(secure.bootstrapServers);
  password = (await readFile(secure.passwordFile, 'utf8')).trim();
  // No --brokers, no config: the recorded cluster, on its SASL_SSL listener.
  const apply = await runCli(['topics', 'apply', '--prefix', prefix, '--verbose'], { env });
  expect(apply.code, apply.stderr).toBe(0);
  expect(apply.stderr).toContain(`the secure cluster started in ${dir}`);
}, 180_000);

afterAll(async () => {
  await stopKafkaCluster(dir).catch(() => undefined); // when a test failed before the CLI stopped it
  await removeTempDirs();
  await rm(root, { recursive: true, force: true });
}, 60_000);

/** The agent's config sections for the secure listener; `sasl`/`tls` replace the working ones. */
function kafkaSection(over: { sasl?: Record<string, unknown>; tls?: Record<string, unknown> | null; brokers?: string } = {}): Record<string, unknown> {
  const tls = over.tls === null ? {} : { tls: over.tls ?? { caFile: secure.caFile } };
  return {
    log: { level: 'debug', format: 'json' }, // kafkajs's own lines too: none may carry a secret
    topics: { prefix },
    kafka: { brokers: [over.brokers ?? secure.bootstrapServers], ...tls, sasl: over.sasl ?? { mechanism: 'scram-sha-512', username: secure.username, passwordFile: secure.passwordFile } },
  };
}

async function startGateway(dataDir: string, sections: Record<string, unknown>): Promise<AgentProcess> {
  return startAgentProcess(dataDir, { gatewayId: 'gw-secure', dataDir, mqtt: { host: '127.0.0.1', port: 0, allowAnonymous: true }, http: { port: 0 }, log: { partitions: 2 } }, 20_000, sections);
}

/** Publishes seqs from..to-1 for each vehicle, QoS 1 (each acknowledged = in the edge log). */
async function publish(agent: AgentProcess, vehicles: string[], from: number, to: number, acked: Map<string, number[]>): Promise<void> {
  await Promise.all(vehicles.map(async (v) => {
    const c = await connectClient(`mqtt://127.0.0.1:${agent.port}`, { clientId: v });
    for (let seq = from; seq < to; seq++) {
      await c.publishAsync(topicOf(v), telemetry(v, seq), { qos: 1 });
      acked.set(v, [...(acked.get(v) ?? []), seq]);
    }
    await c.endAsync();
  }));
}

interface Status { connected: boolean; forwardedRecords: number; lastError?: { code: string; message: string }; backlog: { records: number } }
async function status(agent: AgentProcess): Promise<{ body: string; json: Status }> {
  const body = await (await fetch(`${agent.httpUrl}/status`)).text();
  return { body, json: JSON.parse(body) as Status };
}

function expectNoSecret(text: string, what: string, secrets: string[]): void {
  for (const s of secrets) expect(text.includes(s), `${what} contains a secret`).toBe(false);
}

describe('roadlog kafka start --secure', () => {
  it('records what a client needs, keeps the secrets in 0600 files, and status names the SASL_SSL listener', async () => {
    expect(secure).toMatchObject({ username: 'roadlog', mechanisms: ['SCRAM-SHA-512', 'SCRAM-SHA-256', 'PLAIN'], caFile: join(dir, 'secure', 'ca.pem') });
    expect(secure.bootstrapServers).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(secure.bootstrapServers).not.toBe(info.bootstrapServers);
    expect(password).toMatch(/^[0-9a-f]{48}$/);
    for (const f of [secure.passwordFile, join(dir, 'secure', 'ca.key'), join(dir, 'secure', 'broker.p12'), join(dir, 'node-1', 'server.properties')]) {
      expect(statSync(f).mode & 0o777, f).toBe(0o600);
    }
    const last = JSON.parse(readFileSync(join(env.ROADLOG_HOME!, 'kafka-last.json'), 'utf8')) as KafkaClusterInfo;
    expect(last.secure).toEqual(secure);
    expectNoSecret(JSON.stringify(last), 'kafka-last.json', [password]);
    const st = await runCli(['kafka', 'status', '--dir', dir], { env });
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toMatch(new RegExp(`^secure ${secure.bootstrapServers}  SASL_SSL SCRAM-SHA-512,SCRAM-SHA-256,PLAIN  user roadlog  CA ${secure.caFile}`, 'm'));
    expect(st.stdout).toMatch(/^node 1 {2}running .* secure \d+ /m);
    expectNoSecret(st.stdout + st.stderr, 'kafka status', [password]);
  });

  it('CLI clients: a plaintext client on the TLS port is refused as ROADLOG_ERR_KAFKA_TLS; SCRAM-SHA-256 from the environment works', async () => {
    const plain = await runCli(['topics', 'list', '--brokers', secure.bootstrapServers], { env });
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/^roadlog: ROADLOG_ERR_KAFKA_TLS topics list: TLS failed: 127\.0\.0\.1:\d+ answered in TLS: it is a TLS listener, and the client is not configured for TLS \(set kafka\.tls\)/m);
    const sha256 = await runCli(['topics', 'list', '--brokers', secure.bootstrapServers], {
      env: { ...env, ROADLOG_KAFKA_TLS_CA_FILE: secure.caFile, ROADLOG_KAFKA_SASL_MECHANISM: 'scram-sha-256', ROADLOG_KAFKA_SASL_USERNAME: 'roadlog', ROADLOG_KAFKA_SASL_PASSWORD: password },
    });
    expect(sha256.code, sha256.stderr).toBe(0);
    expect(sha256.stdout).toContain(telemetryTopic);
  });

  it('edge check-config refuses PLAIN without TLS naming kafka.sasl.mechanism, and a missing CA file naming kafka.tls.caFile', async () => {
    const d = await tempDir();
    const file = join(d, 'edge.yaml');
    await writeFile(file, JSON.stringify({ kafka: { brokers: [secure.bootstrapServers], sasl: { mechanism: 'plain', username: 'roadlog', password: 'clear-text-secret' } }, edge: { dataDir: d, mqtt: { allowAnonymous: true } } }));
    const r = await runCli(['edge', 'check-config', file], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ROADLOG_ERR_CONFIG_INVALID config invalid: kafka\.sasl\.mechanism \(in .*edge\.yaml\): plain sends the password in clear text/);
    expectNoSecret(r.stderr, 'check-config', ['clear-text-secret']);
    // check-config reads the TLS and password files as the forwarder will.
    await writeFile(file, JSON.stringify({ kafka: { brokers: [secure.bootstrapServers], tls: { caFile: join(d, 'missing-ca.pem') } }, edge: { dataDir: d, mqtt: { allowAnonymous: true } } }));
    const missing = await runCli(['edge', 'check-config', file], { env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`roadlog: ROADLOG_ERR_FILE_NOT_FOUND kafka.tls.caFile ${join(d, 'missing-ca.pem')}: no such file or directory (ENOENT)`);
  });
});

describe('the edge forwarder over SASL_SSL (built CLI)', () => {
  it('delivers with SCRAM-SHA-512, and no secret shows in its output, /status, /metrics or `roadlog edge status`', async () => {
    const dataDir = await tempDir();
    const agent = await startGateway(dataDir, kafkaSection());
    const acked = new Map<string, number[]>();
    try {
      await publish(agent, ['VH-s1', 'VH-s2'], 0, 50, acked);
      await waitForEmptyBacklog(agent, 60_000);
      const { body, json } = await status(agent);
      expect(json).toMatchObject({ connected: true, forwardedRecords: 100 });
      const metrics = await (await fetch(`${agent.httpUrl}/metrics`)).text();
      const cli = await runCli(['edge', 'status', '--url', agent.httpUrl, '--json'], { env });
      expectNoSecret(body + metrics + cli.stdout + cli.stderr, '/status, /metrics, edge status', [password]);
    } finally {
      expect((await agent.stop()).code).toBe(0);
    }
    expectNoSecret(agent.output.stdout + agent.output.stderr, 'the agent\'s output', [password]);
    expect(agent.output.stderr).toContain('forwarder connected to Kafka'); // the debug log did run
    const { seqs } = await readBack(info.bootstrapServers, telemetryTopic, acked, 60_000);
    for (const [v, s] of acked) expect(seqs.get(v), v).toEqual(s);
  });

  it('refuses a wrong password, an unknown CA and a plaintext client with coded errors, loses and counts nothing, then drains with PLAIN over TLS', async () => {
    const dataDir = await tempDir();
    const other = await makeCa(await tempDir(), 'not the cluster CA');
    const wrongPassword = 'wrong-password-0123456789';
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      ['wrong password', kafkaSection({ sasl: { mechanism: 'scram-sha-512', username: 'roadlog', password: wrongPassword } }), 'ROADLOG_ERR_KAFKA_AUTH', /SASL authentication failed .*invalid credentials/],
      ['unknown CA', kafkaSection({ tls: { caFile: other.caFile } }), 'ROADLOG_ERR_KAFKA_TLS', /self-signed certificate in certificate chain .*kafka\.tls\.caFile/],
      ['plaintext client', { ...kafkaSection({ tls: null }), kafka: { brokers: [secure.bootstrapServers] } }, 'ROADLOG_ERR_KAFKA_TLS', /answered in TLS/],
    ];
    const acked = new Map<string, number[]>();
    let seq = 0;
    for (const [what, sections, code, message] of cases) {
      const agent = await startGateway(dataDir, sections);
      try {
        await publish(agent, ['VH-r1', 'VH-r2'], seq, seq + 10, acked);
        seq += 10;
        const { json, body } = await waitFor(async () => {
          const s = await status(agent);
          return s.json.lastError?.code === code ? s : undefined;
        }, 60_000, `${what}: ${code} in /status`);
        expect(json.lastError?.message, what).toMatch(message);
        expect(json, what).toMatchObject({ connected: false, forwardedRecords: 0, backlog: { records: seq * 2 } });
        const metrics = await (await fetch(`${agent.httpUrl}/metrics`)).text();
        expect(metrics, what).toContain(`roadlog_edge_forward_failures_total{code="${code}",gateway="gw-secure"}`);
        expect(metrics, what).not.toMatch(/roadlog_edge_forwarded_records_total\{[^}]*\} [1-9]/);
        expectNoSecret(body + metrics, `${what}: /status, /metrics`, [password, wrongPassword]);
      } finally {
        expect((await agent.stop()).code, what).toBe(0);
      }
      expectNoSecret(agent.output.stdout + agent.output.stderr, `${what}: the agent's output`, [password, wrongPassword]);
    }
    // Fixed: the same log, now with PLAIN over TLS (the password from the file, inline).
    const agent = await startGateway(dataDir, kafkaSection({ sasl: { mechanism: 'plain', username: 'roadlog', passwordFile: secure.passwordFile } }));
    try {
      await waitForEmptyBacklog(agent, 60_000);
      expect((await status(agent)).json).toMatchObject({ connected: true, forwardedRecords: seq * 2 });
    } finally {
      expect((await agent.stop()).code).toBe(0);
    }
    expectNoSecret(agent.output.stdout + agent.output.stderr, 'the agent\'s output', [password]);
    const { seqs } = await readBack(info.bootstrapServers, telemetryTopic, acked, 60_000);
    for (const [v, s] of acked) expect(seqs.get(v), v).toEqual(s);
  });
});

describe('roadlog kafka stop (the secure cluster)', () => {
  it('stops it; status then exits 1', async () => {
    const stop = await runCli(['kafka', 'stop', '--dir', dir], { env, timeoutMs: 60_000 });
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stderr).toMatch(/^kafka: stopped 1 node in/m);
    const st = await runCli(['kafka', 'status', '--dir', dir], { env });
    expect(st.code).toBe(1);
    expect(st.stderr).toMatch(/ROADLOG_ERR_SERVICE_NOT_RUNNING/);
  });
});
