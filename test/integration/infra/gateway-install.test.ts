/**
 * infra/gateway/install.sh into a temporary --root, as the user running the test: the package
 * installed from a tarball of this checkout (npm pack, runtime dependencies only), the files
 * and their modes, the unit's hardening, `systemd-analyze verify` when the tool exists, the
 * generated config accepted by the installed `roadlog edge check-config` once a vehicle has a
 * credential, the installed agent starting and stopping cleanly on SIGTERM, and a second run
 * that changes nothing and keeps an edited config and credentials file.
 *
 * Needs the built CLI (npm test builds it) and npm able to fetch the runtime dependencies
 * (npm_config_prefer_offline: the npm cache filled by `npm ci` is enough).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, lstat, mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CLI } from '../../support/cli.js';
import { INSTALL_ENV, mode, run, snapshot, type Run } from '../../support/install.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const INSTALL = join(REPO, 'infra/gateway/install.sh');
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';


describe('infra/gateway/install.sh --root', () => {
  let root: string;
  let work: string;
  let tarball: string;
  let first: Run;
  const bin = (): string => join(root, 'opt/roadlog/bin/roadlog');
  const unitPath = (): string => join(root, 'etc/systemd/system/roadlog-edge.service');

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does it)`);
    root = await mkdtemp(join(tmpdir(), 'roadlog-gw-'));
    work = await mkdtemp(join(tmpdir(), 'roadlog-gw-pack-'));
    // The tarball a user copies to the gateway, packed once: both runs install the same bytes
    // even while others edit or rebuild the checkout.
    const packed = await run('npm', ['pack', '--silent', '--pack-destination', work, REPO], { timeoutMs: 120_000 });
    if (packed.code !== 0) throw new Error(`npm pack failed: ${packed.stderr}`);
    tarball = join(work, packed.stdout.trim().split('\n').pop()!);
    first = await run('bash', [INSTALL, '--root', root, '--from', tarball]);
    if (first.code !== 0) throw new Error(`install.sh failed (${first.code}):\n${first.stdout}\n${first.stderr}`);
  }, 180_000);

  afterAll(async () => {
    for (const dir of [root, work]) if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('installs the packed tarball with only its runtime dependencies', async () => {
    expect(first.stdout).toMatch(/^package: npm install --global --prefix \/opt\/roadlog roadlog-[\d.]+\.tgz/m);
    expect(await readlink(bin())).toBe('../lib/node_modules/roadlog/dist/shared/cli/main.js');
    expect(await readlink(join(root, 'usr/local/bin/roadlog'))).toBe('/opt/roadlog/bin/roadlog');
    const modules = await readdir(join(root, 'opt/roadlog/lib/node_modules/roadlog/node_modules'));
    expect(modules).toEqual(expect.arrayContaining(['aedes', 'mqtt', 'zod', 'yaml']));
    // The cloud's native and browser packages never reach a gateway: no binary module at all.
    expect(modules).not.toContain('@duckdb');
    expect(modules).not.toContain('echarts');
    expect(modules).not.toContain('zrender');
    expect(modules).not.toContain('fastify');
    const native = await findFiles(join(root, 'opt/roadlog/lib/node_modules/roadlog/node_modules'), (name) => name.endsWith('.node'));
    expect(native).toEqual([]);
    // A cloud command on the gateway says what is missing instead of failing on a module path.
    const cold = await run(bin(), ['cold', 'start', '--archive', join(root, 'archive'), '--brokers', '127.0.0.1:1'], { env: INSTALL_ENV });
    expect(cold.code).toBe(1);
    expect(cold.stderr).toMatch(/ROADLOG_ERR_CLOUD_PACKAGE_MISSING.*DuckDB/);
    for (const dev of ['vitest', 'typescript', 'tsx', 'fast-check']) expect(modules).not.toContain(dev);
    const version = await run(bin(), ['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe(JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')).version);
  });

  it('says it skipped the system user instead of creating one under --root', () => {
    expect(first.stdout).toMatch(/^user: +skipped under --root .* \(would run: useradd --system --user-group --home-dir \/var\/lib\/roadlog .*roadlog\)/m);
    expect(first.stdout).toMatch(/^systemd: systemctl not called/m);
  });

  it('creates the data dir, the config and an empty credentials file with safe modes', async () => {
    expect(await mode(join(root, 'var/lib/roadlog'))).toBe(0o750);
    expect(await mode(join(root, 'etc/roadlog'))).toBe(0o750);
    expect(await mode(join(root, 'etc/roadlog/edge.yaml'))).toBe(0o640);
    const passwd = join(root, 'etc/roadlog/vehicles.passwd');
    expect(await mode(passwd)).toBe(0o600);
    expect((await lstat(passwd)).size).toBe(0);
    // Under --root nothing is chowned: the files belong to whoever ran the script.
    expect((await lstat(passwd)).uid).toBe(process.getuid!());
    const config = parse(await readFile(join(root, 'etc/roadlog/edge.yaml'), 'utf8'));
    expect(config.edge.dataDir).toBe('/var/lib/roadlog');
    expect(config.edge.mqtt.allowAnonymous).toBe(false);
    expect(config.edge.mqtt.credentialsFile).toBe('/etc/roadlog/vehicles.passwd');
    expect(config.edge.http.host).toBe('127.0.0.1');
  });

  it('installs a hardened unit that runs the agent as roadlog', async () => {
    expect(await mode(unitPath())).toBe(0o644);
    const lines = (await readFile(unitPath(), 'utf8')).split('\n');
    for (const line of [
      'User=roadlog',
      'Group=roadlog',
      'ExecStart=/opt/roadlog/bin/roadlog edge start --config /etc/roadlog/edge.yaml',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'ReadWritePaths=/var/lib/roadlog',
      'Restart=always',
      'KillSignal=SIGTERM',
      'CapabilityBoundingSet=',
      'WantedBy=multi-user.target',
    ]) {
      expect(lines).toContain(line);
    }
    expect(lines.find((l) => l.startsWith('RestartSec='))).toMatch(/^RestartSec=\d+s$/);
    // The agent drains in-flight publishes for up to 5 s, then fsyncs: systemd must wait longer.
    const stop = Number(/^TimeoutStopSec=(\d+)s$/.exec(lines.find((l) => l.startsWith('TimeoutStopSec=')) ?? '')?.[1]);
    expect(stop).toBeGreaterThanOrEqual(10);
    expect(lines).not.toContain('MemoryDenyWriteExecute=yes');
  });

  it('generates a config that the installed roadlog edge check-config accepts once a vehicle has a credential', async () => {
    const passwd = join(root, 'etc/roadlog/vehicles.passwd');
    // The config names the target's paths (/etc/roadlog/...): point the credentials file at the
    // staged copy through the environment, the config file itself stays as generated.
    const env = { ...INSTALL_ENV, ROADLOG_EDGE_MQTT_CREDENTIALS_FILE: passwd };
    const added = await run(bin(), ['edge', 'passwd', passwd, 'VH-0001'], { input: 'correct-horse-battery\n' });
    expect(added.code, added.stderr).toBe(0);
    const check = await run(bin(), ['edge', 'check-config', join(root, 'etc/roadlog/edge.yaml')], { env });
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/: ok \(gateway .*, 1 vehicle credential\(s\), data in \/var\/lib\/roadlog\)/);
  });

  it('the installed agent starts from the generated config and stops cleanly on SIGTERM within TimeoutStopSec', async () => {
    const env = {
      ...INSTALL_ENV,
      ROADLOG_EDGE_MQTT_CREDENTIALS_FILE: join(root, 'etc/roadlog/vehicles.passwd'),
      ROADLOG_EDGE_DATA_DIR: join(root, 'var/lib/roadlog'),
      ROADLOG_EDGE_MQTT_HOST: '127.0.0.1',
      ROADLOG_EDGE_MQTT_PORT: '0',
      ROADLOG_EDGE_HTTP_PORT: '0',
    };
    const child = spawn(bin(), ['edge', 'start', '--config', join(root, 'etc/roadlog/edge.yaml')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
    try {
      const deadline = Date.now() + 20_000;
      while (!/^http /m.test(stdout)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`agent did not start:\n${stdout}\n${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(stdout).toMatch(/^mqtt mqtt:\/\/127\.0\.0\.1:\d+$/m);
      const unit = await readFile(unitPath(), 'utf8');
      const timeoutMs = Number(/^TimeoutStopSec=(\d+)s$/m.exec(unit)![1]) * 1000;
      const stopped = Date.now();
      child.kill('SIGTERM');
      const { code } = await exited;
      expect(code, stderr).toBe(0);
      expect(Date.now() - stopped).toBeLessThan(timeoutMs);
      expect(stderr).toMatch(/edge agent stopped/);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  it('a second run changes nothing and keeps an edited config and the credentials', async () => {
    const config = join(root, 'etc/roadlog/edge.yaml');
    await writeFile(config, `${await readFile(config, 'utf8')}# edited by the operator\n`);
    const before = await snapshot(root);
    const second = await run('bash', [INSTALL, '--root', root, '--from', tarball]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).not.toMatch(/npm install|created|wrote|->/);
    expect(second.stdout).toMatch(/^package: \/opt\/roadlog unchanged/m);
    expect(second.stdout).toMatch(/^config: +\/etc\/roadlog\/edge.yaml exists, left as is/m);
    expect(second.stdout).toMatch(/^passwd: +\/etc\/roadlog\/vehicles.passwd exists, left as is/m);
    const after = await snapshot(root);
    expect([...after.entries()]).toEqual([...before.entries()]);
    expect(await readFile(config, 'utf8')).toMatch(/# edited by the operator\n$/);
    expect(await readFile(join(root, 'etc/roadlog/vehicles.passwd'), 'utf8')).toMatch(/^VH-0001: scrypt\$/m);
  }, 120_000);

  it.skipIf(!existsSync(SYSTEMD_ANALYZE))('systemd-analyze verify accepts the unit, without a single warning', async () => {
    // verify --root needs the distribution's units (sysinit.target, multi-user.target) in the
    // root; ExecStart is looked up inside it, so a missing /opt/roadlog/bin/roadlog would fail.
    await cp('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true });
    const verify = await run(SYSTEMD_ANALYZE, ['verify', `--root=${root}`, '--man=no', 'roadlog-edge.service']);
    expect(verify.stderr).toBe('');
    expect(verify.code).toBe(0);
  });

  it.skipIf(!existsSync(SYSTEMD_ANALYZE))('systemd-analyze security rates the unit OK (exposure at most 3.5 of 10)', async () => {
    if (!existsSync(join(root, 'usr/lib/systemd/system'))) await cp('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true });
    const security = await run(SYSTEMD_ANALYZE, ['security', '--offline=yes', `--root=${root}`, '--no-pager', 'roadlog-edge.service']);
    // --offline needs systemd >= 250; older ones say so and the check has nothing to read.
    if (/unrecognized option|Unknown option/i.test(security.stderr)) return;
    const exposure = Number(/Overall exposure level for roadlog-edge\.service: ([\d.]+)/.exec(security.stdout)?.[1]);
    expect(exposure, security.stdout + security.stderr).toBeLessThanOrEqual(3.5);
  });

  it('without --from, packs and installs the checkout the script lives in', async () => {
    const other = await mkdtemp(join(tmpdir(), 'roadlog-gw-checkout-'));
    try {
      const r = await run('bash', [INSTALL, '--root', other, '--no-systemctl']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^package: npm install --global --prefix \/opt\/roadlog roadlog-[\d.]+\.tgz/m);
      expect((await run(join(other, 'opt/roadlog/bin/roadlog'), ['--version'])).code).toBe(0);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  }, 180_000);
});

describe('infra/gateway/install.sh on a gateway whose Node.js is too old', () => {
  it('refuses before touching anything, naming the version it found', async () => {
    // A `node` first on the PATH that reports itself as 20 (Debian 12's): the installer must
    // stop at its precondition, naming that version, and write nothing under --root.
    const bin = await mkdtemp(join(tmpdir(), 'roadlog-gw-oldnode-'));
    const root = join(bin, 'root');
    try {
      const fake = join(bin, 'node');
      await writeFile(fake, `#!/bin/sh\n[ "$1" = -v ] && echo v20.20.2 && exit 0\nexec ${JSON.stringify(process.execPath)} -e 'process.exit(1)'\n`, { mode: 0o755 });
      const r = await run('bash', [INSTALL, '--root', root, '--no-systemctl'], { env: { ...INSTALL_ENV, PATH: `${bin}:${process.env['PATH'] ?? ''}` } });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('Node.js v20.20.2');
      expect(r.stderr).toContain('roadlog needs Node.js >= 24');
      expect(existsSync(root)).toBe(false);
    } finally {
      await rm(bin, { recursive: true, force: true });
    }
  });
});

/** Files under `dir` (recursively) whose name passes `match`, as paths relative to `dir`. */
async function findFiles(dir: string, match: (name: string) => boolean): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && match(e.name)).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}
