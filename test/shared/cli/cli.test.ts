import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../../shared/cli/program.js';
import { runCli } from '../../support/cli.js';
import { validateTelemetry } from '../../../shared/schema/index.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { openLog } from '../../../edge/log/index.js';
import { CLI } from '../../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'roadlog-cli-'));
const env = { ROADLOG_HOME: join(dir, 'home') };

function commandPaths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((sub) => {
    const path = [...prefix, sub.name()];
    return [path, ...commandPaths(sub, path)];
  });
}

describe('roadlog CLI (built, as installed)', () => {
  it('prints help with no arguments and lists the subcommands', async () => {
    const r = await runCli([], { env });
    expect(r.code).toBe(0);
    for (const name of ['schema', 'config', 'topics', 'tail', 'kafka', 'influx', 'mosquitto']) expect(r.stdout).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
  });

  it('has --help at every level, exit 0, describing the command', async () => {
    const paths = commandPaths(buildProgram());
    expect(paths.length).toBeGreaterThan(15);
    // Four at a time: 30 CLI processes at once on a 2-core machine took longer than the test.
    const results: { path: string[]; r: Awaited<ReturnType<typeof runCli>> }[] = [];
    for (let i = 0; i < paths.length; i += 4) {
      results.push(...(await Promise.all(paths.slice(i, i + 4).map(async (path) => ({ path, r: await runCli([...path, '--help'], { env }) })))));
    }
    for (const { path, r } of results) {
      expect(r.code, path.join(' ')).toBe(0);
      expect(r.stdout, path.join(' ')).toMatch(new RegExp(`^Usage: roadlog ${path.join(' ')}`));
      expect(r.stderr).toBe('');
    }
  }, 120_000);

  it('prints its version', async () => {
    const r = await runCli(['--version'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('an unknown command or option is a usage error, exit 2', async () => {
    const unknown = await runCli(['frobnicate'], { env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^roadlog: ROADLOG_ERR_USAGE unknown command 'frobnicate'/);
    const option = await runCli(['topics', 'list', '--nope'], { env });
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/ROADLOG_ERR_USAGE unknown option '--nope'/);
  });

  it('a malformed number option names the flag, exit 2', async () => {
    const r = await runCli(['tail', 'x', '--limit', 'ten'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('roadlog: ROADLOG_ERR_USAGE --limit: expected an integer from 1 to 9007199254740991, got "ten"\n');
  });

  it('schema example prints a record the schema accepts; schema json prints JSON Schema', async () => {
    const example = await runCli(['schema', 'example'], { env });
    expect(example.code).toBe(0);
    expect(validateTelemetry(JSON.parse(example.stdout)).ok).toBe(true);
    const json = await runCli(['schema', 'json'], { env });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ type: 'object', additionalProperties: false });
  });

  it('schema validate names the field of a bad record and exits 1', async () => {
    const good = (await runCli(['schema', 'example', '--compact'], { env })).stdout.trim();
    const bad = good.replace(/"speedKph":[0-9.]+/, '"speedKph":999');
    const r = await runCli(['schema', 'validate', '--lines'], { env, input: `${good}\n${bad}\nnot json\n` });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^line 1: ok/m);
    expect(r.stdout).toMatch(/^line 2: ROADLOG_ERR_SCHEMA_INVALID speedKph: expected a number ≤ 400, got 999$/m);
    expect(r.stdout).toMatch(/^line 3: ROADLOG_ERR_PAYLOAD_NOT_JSON/m);
    expect(r.stderr).toMatch(/ROADLOG_ERR_SCHEMA_INVALID 2 of 3 record\(s\) invalid/);
  });

  it('config check: a valid file passes; an invalid one exits 2 naming the field and the expected value', async () => {
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'kafka:\n  brokers: ["127.0.0.1:9092"]\n');
    expect((await runCli(['config', 'check', good], { env })).code).toBe(0);

    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'kafka:\n  connectionTimeoutMs: 10s\n  colour: blue\n');
    const r = await runCli(['config', 'check', bad], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ROADLOG_ERR_CONFIG_INVALID');
    expect(r.stderr).toContain(`kafka.connectionTimeoutMs (in ${bad}): expected a number, got "10s"`);
    expect(r.stderr).toContain(`kafka.colour (in ${bad}): unknown key`);
    expect(r.stderr.trim().split('\n').length).toBe(1);
  });

  it('invalid config from the environment stops any command that reads config, exit 2', async () => {
    const r = await runCli(['topics', 'list'], { env: { ...env, ROADLOG_KAFKA_CONNECTION_TIMEOUT_MS: '-5' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^roadlog: ROADLOG_ERR_CONFIG_INVALID config invalid: kafka\.connectionTimeoutMs \(from ROADLOG_KAFKA_CONNECTION_TIMEOUT_MS\): expected a number ≥ 100, got -5/);
  });

  it('a Kafka command with no brokers anywhere says how to give some', async () => {
    const r = await runCli(['topics', 'list'], { env: { ...env, ROADLOG_KAFKA_BROKERS: undefined } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^roadlog: ROADLOG_ERR_KAFKA_NO_CLUSTER no Kafka brokers: pass --brokers/);
  });

  it('config env lists the environment variables', async () => {
    const r = await runCli(['config', 'env'], { env });
    expect(r.stdout).toMatch(/^ROADLOG_KAFKA_BROKERS\s+kafka\.brokers$/m);
  });

  it('writes everything into a slow pipe, and stops quietly when the reader goes away', async () => {
    const logDir = join(dir, 'piped-log');
    const log = await openLog(logDir, {});
    await Promise.all(Array.from({ length: 20_000 }, (_, i) => log.append({ key: `VH-${i % 50}`, value: 'x'.repeat(300) })));
    await log.close();
    const sh = promisify(execFile);
    const counted = await sh('bash', ['-c', `set -o pipefail; node ${CLI} log dump ${logDir} | (sleep 0.3; wc -l)`], { env: { ...process.env, ...env } });
    expect(counted.stdout.trim()).toBe('20000');
    const head = await sh('bash', ['-c', `node ${CLI} log dump ${logDir} | head -1 >/dev/null; echo "exit \${PIPESTATUS[0]}"`], { env: { ...process.env, ...env } });
    expect(head.stdout.trim()).toBe('exit 0');
    expect(head.stderr).toBe('');
  });
});
