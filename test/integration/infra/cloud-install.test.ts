/**
 * infra/cloud/install.sh into a temporary --root, as the user running the test: first with
 * `--components hot` (only the hot path's config and unit), then all four components over it.
 * Checks the package installed from a tarball of this checkout WITH its optional dependencies
 * (DuckDB's native binding loads), the files and their modes, each unit's hardening and
 * ExecStart (a command the installed CLI knows), `systemd-analyze verify` when the tool exists,
 * each generated config accepted by the installed `roadlog config check`, the installed console
 * serving a login and a report (DuckDB) without Kafka and stopping cleanly on SIGTERM, and a
 * second run that changes nothing and keeps an edited config and the console's users. And on a
 * machine the gateway install reached first (same tarball, its optional dependencies left out),
 * that the cloud install puts them back.
 *
 * Needs the built CLI (npm test builds it) and npm able to fetch the dependencies
 * (npm_config_prefer_offline: the npm cache filled by `npm ci` is enough).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CLI } from '../../support/cli.js';
import { INSTALL_ENV, mode, run, snapshot, type Run } from '../../support/install.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const INSTALL = join(REPO, 'infra/cloud/install.sh');
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
const HAS_SYSTEMD_ANALYZE = existsSync(SYSTEMD_ANALYZE);
/** Each component and the command its unit runs (before `--config`). */
const COMPONENTS = { hot: 'hot start', cold: 'cold start', 'influx-sink': 'influx-sink start', console: 'console' } as const;
type Component = keyof typeof COMPONENTS;
const NAMES = Object.keys(COMPONENTS) as Component[];
const ARCHIVE = '/var/lib/roadlog/archive';
const CONSOLE_DIR = '/var/lib/roadlog/console';
const USERS = '/etc/roadlog/console-users';

const unitName = (c: Component): string => `roadlog-${c}.service`;

describe('infra/cloud/install.sh --root', () => {
  let root: string;
  let work: string;
  let tarball: string;
  let hotOnly: { run: Run; units: string[]; configs: string[]; data: string[] };
  let first: Run;
  const bin = (): string => join(root, 'opt/roadlog/bin/roadlog');
  const installed = (): string => join(root, 'opt/roadlog/lib/node_modules/roadlog');
  const unitLines = async (c: Component): Promise<string[]> => (await readFile(join(root, 'etc/systemd/system', unitName(c)), 'utf8')).split('\n');
  const setting = (lines: string[], key: string): string[] => lines.filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does it)`);
    root = await mkdtemp(join(tmpdir(), 'roadlog-cloud-'));
    work = await mkdtemp(join(tmpdir(), 'roadlog-cloud-pack-'));
    // The tarball a user copies to the server, packed once: every run installs the same bytes
    // even while others edit or rebuild the checkout.
    const packed = await run('npm', ['pack', '--silent', '--pack-destination', work, REPO]);
    if (packed.code !== 0) throw new Error(`npm pack failed: ${packed.stderr}`);
    tarball = join(work, packed.stdout.trim().split('\n').pop()!);
    const installs = async (args: string[]): Promise<Run> => {
      const r = await run('bash', [INSTALL, '--root', root, '--from', tarball, ...args]);
      if (r.code !== 0) throw new Error(`install.sh ${args.join(' ')} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
      return r;
    };
    const hot = await installs(['--components', 'hot']);
    const list = async (dir: string): Promise<string[]> => (existsSync(join(root, dir)) ? (await readdir(join(root, dir))).sort() : []);
    hotOnly = { run: hot, units: await list('etc/systemd/system'), configs: await list('etc/roadlog'), data: await list('var/lib/roadlog') };
    first = await installs([]);
  }, 180_000);

  afterAll(async () => {
    for (const dir of [root, work]) if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('installs the packed tarball with its optional dependencies, and DuckDB\'s native binding loads', async () => {
    expect(hotOnly.run.stdout).toMatch(/^package: npm install --global --prefix \/opt\/roadlog roadlog-[\d.]+\.tgz \(runtime and optional dependencies\)/m);
    expect(first.stdout).toMatch(/^package: \/opt\/roadlog unchanged/m);
    expect(await readlink(bin())).toBe('../lib/node_modules/roadlog/dist/shared/cli/main.js');
    expect(await readlink(join(root, 'usr/local/bin/roadlog'))).toBe('/opt/roadlog/bin/roadlog');
    const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string; optionalDependencies: Record<string, string> };
    const duckdb = Object.keys(pkg.optionalDependencies).find((name) => name.includes('duckdb'));
    expect(duckdb).toBeDefined();
    const require = createRequire(join(installed(), 'package.json'));
    for (const name of Object.keys(pkg.optionalDependencies)) expect(require.resolve(name), name).toContain(join(installed(), 'node_modules'));
    for (const dev of ['vitest', 'typescript', 'tsx', 'fast-check', 'playwright-core']) expect(existsSync(join(installed(), 'node_modules', dev)), dev).toBe(false);
    // Loaded in a child process, from the installed package: the binding works, not just exists.
    const loads = await run(process.execPath, ['--input-type=module', '-e', `
      import { createRequire } from 'node:module';
      import { pathToFileURL } from 'node:url';
      const { DuckDBInstance } = await import(pathToFileURL(createRequire(process.argv[1]).resolve(process.argv[2])).href);
      const conn = await (await DuckDBInstance.create(':memory:')).connect();
      console.log((await conn.runAndReadAll('SELECT 6 * 7 AS x')).getRowObjects()[0].x);`, join(installed(), 'package.json'), duckdb!]);
    expect(loads.stderr).toBe('');
    expect(loads.stdout.trim()).toBe('42');
    const version = await run(bin(), ['--version']);
    expect(version.stdout.trim()).toBe(pkg.version);
  });

  it('--components hot installs only the hot path\'s config and unit', () => {
    expect(hotOnly.units).toEqual(['roadlog-hot.service']);
    expect(hotOnly.configs).toEqual(['hot.yaml']);
    expect(hotOnly.data).toEqual([]);
    expect(hotOnly.run.stdout).toMatch(/^roadlog cloud components installed under .*: hot$/m);
    expect(hotOnly.run.stdout).toMatch(/^user: +skipped under --root .* \(would run: useradd --system --user-group --home-dir \/var\/lib\/roadlog .*roadlog\)/m);
    expect(hotOnly.run.stdout).toMatch(/^systemd: systemctl not called.*systemctl enable --now roadlog-hot$/m);
    // The full run then adds the other three and leaves the hot path's files as they were.
    expect(first.stdout).toMatch(/^config: +\/etc\/roadlog\/hot.yaml exists, left as is/m);
    expect(first.stdout).toMatch(/^unit: +\/etc\/systemd\/system\/roadlog-hot.service unchanged/m);
  });

  it('creates the data dirs, one config per component from its example, and an empty users file, with safe modes', async () => {
    for (const dir of ['var/lib/roadlog', ARCHIVE, CONSOLE_DIR, 'etc/roadlog']) expect(await mode(join(root, dir)), dir).toBe(0o750);
    expect((await readdir(join(root, 'etc/roadlog'))).sort()).toEqual(['cold.yaml', 'console-users', 'console.yaml', 'hot.yaml', 'influx-sink.yaml']);
    for (const c of NAMES) {
      const path = join(root, 'etc/roadlog', `${c}.yaml`);
      expect(await mode(path), c).toBe(0o640);
      const example = parse(await readFile(join(REPO, 'infra/cloud/examples', `${c}.yaml`), 'utf8'));
      const config = parse(await readFile(path, 'utf8'));
      // The example, with the paths the units make writable or readable.
      if (example.cold !== undefined) example.cold.archive = ARCHIVE;
      if (example.console !== undefined) example.console.usersFile = USERS;
      expect(config, c).toEqual(example);
    }
    const users = join(root, USERS);
    expect(await mode(users)).toBe(0o600);
    expect((await lstat(users)).size).toBe(0);
    // Under --root nothing is chowned: the files belong to whoever ran the script.
    expect((await lstat(users)).uid).toBe(process.getuid!());
    expect(first.stdout).toMatch(/^users: +created empty \/etc\/roadlog\/console-users .*roadlog console passwd \/etc\/roadlog\/console-users NAME --role operator/m);
  });

  it('installs one hardened unit per component, running the installed binary with its config', async () => {
    for (const c of NAMES) {
      expect(await mode(join(root, 'etc/systemd/system', unitName(c))), c).toBe(0o644);
      const lines = await unitLines(c);
      const execStart = `/opt/roadlog/bin/roadlog ${COMPONENTS[c]} --config /etc/roadlog/${c}.yaml`;
      for (const line of [
        'User=roadlog',
        'Group=roadlog',
        `ExecStart=${execStart}`,
        'Environment=ROADLOG_HOME=/var/lib/roadlog',
        'NoNewPrivileges=yes',
        'ProtectSystem=strict',
        'ProtectHome=yes',
        'PrivateTmp=yes',
        'PrivateDevices=yes',
        'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
        'CapabilityBoundingSet=',
        'Restart=always',
        'KillSignal=SIGTERM',
        'WantedBy=multi-user.target',
      ]) {
        expect(lines, `${c}: ${line}`).toContain(line);
      }
      expect(lines).not.toContain('MemoryDenyWriteExecute=yes');
      expect(setting(lines, 'RestartSec')[0], c).toMatch(/^\d+s$/);
      // Only the archiver writes the archive; the console only its working directory, where
      // DuckDB spills (.tmp in the working directory: it sets no temp_directory of its own).
      const writable = { hot: [], cold: [ARCHIVE], 'influx-sink': [], console: [CONSOLE_DIR] }[c];
      expect(setting(lines, 'ReadWritePaths'), c).toEqual(writable);
      expect(setting(lines, 'WorkingDirectory'), c).toEqual(c === 'console' ? [CONSOLE_DIR] : []);
      // A command the installed CLI has, taking --config.
      const help = await run(bin(), [...COMPONENTS[c].split(' '), '--help']);
      expect(help.code, `${c}: ${help.stderr}`).toBe(0);
      expect(help.stdout, c).toMatch(/--config <file>/);
    }
    // Stop: the archiver flushes what it holds, so it gets the longest; the others a Kafka timeout and more.
    const stop = Object.fromEntries(await Promise.all(NAMES.map(async (c) => [c, Number(/^(\d+)s$/.exec(setting(await unitLines(c), 'TimeoutStopSec')[0] ?? '')?.[1])])));
    expect(stop.cold).toBeGreaterThanOrEqual(60);
    for (const c of ['hot', 'influx-sink'] as const) expect(stop[c], c).toBeGreaterThanOrEqual(20);
    expect(stop.console).toBeGreaterThanOrEqual(10);
  });

  it('every generated config passes the installed roadlog config check', async () => {
    const env: NodeJS.ProcessEnv = { ...INSTALL_ENV, ROADLOG_HOME: join(work, 'home') };
    delete env['ROADLOG_KAFKA_BROKERS'];
    for (const c of NAMES) {
      const path = join(root, 'etc/roadlog', `${c}.yaml`);
      const check = await run(bin(), ['config', 'check', path], { env });
      expect(check.code, `${c}: ${check.stderr}`).toBe(0);
      expect(check.stdout, c).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ok \\(kafka, topics, log, `));
    }
  });

  it('the installed console serves a login and a report (DuckDB) without Kafka, then stops cleanly on SIGTERM within TimeoutStopSec', async () => {
    const users = join(root, USERS);
    const added = await run(bin(), ['console', 'passwd', users, 'alice', '--role', 'operator'], { input: 'correct-horse-battery\n' });
    expect(added.code, added.stderr).toBe(0);
    expect(await mode(users)).toBe(0o600);
    // The unit's environment and working directory, with the staged paths for the target's.
    const env = {
      ...INSTALL_ENV,
      ROADLOG_HOME: join(root, 'var/lib/roadlog'),
      ROADLOG_CONSOLE_USERS_FILE: users,
      ROADLOG_COLD_ARCHIVE: join(root, ARCHIVE),
      ROADLOG_CONSOLE_PORT: '0',
      ROADLOG_KAFKA_BROKERS: '127.0.0.1:1',
    };
    const child = spawn(bin(), ['console', '--config', join(root, 'etc/roadlog/console.yaml')], { env, cwd: join(root, CONSOLE_DIR), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 20_000;
      while (!/^http /m.test(stdout)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`console did not start:\n${stdout}\n${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(stdout).toContain(`users from ${users}: 1;`);
      const url = /^http (\S+)$/m.exec(stdout)![1]!;
      const login = await fetch(`${url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'alice', password: 'correct-horse-battery' }) });
      expect(login.status).toBe(200);
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      const report = await fetch(`${url}/api/reports/fleet?from=2026-01-01&to=2026-01-02&format=json`, { headers: { cookie } });
      expect(report.status, await report.clone().text()).toBe(200);
      expect(((await report.json()) as { rows: unknown[] }).rows).toEqual([]);
      const timeoutMs = Number(/^(\d+)s$/.exec(setting(await unitLines('console'), 'TimeoutStopSec')[0]!)![1]) * 1000;
      const stopped = Date.now();
      child.kill('SIGTERM');
      expect(await exited, stderr).toBe(0);
      expect(Date.now() - stopped).toBeLessThan(timeoutMs);
      expect(stderr).toMatch(/stopping the console/);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  it('a second run changes nothing and keeps an edited config and the console\'s users', async () => {
    const config = join(root, 'etc/roadlog/cold.yaml');
    await writeFile(config, `${await readFile(config, 'utf8')}# edited by the operator\n`);
    const before = await snapshot(root);
    const second = await run('bash', [INSTALL, '--root', root, '--from', tarball]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).not.toMatch(/npm install|created|wrote|->/);
    expect(second.stdout).toMatch(/^package: \/opt\/roadlog unchanged/m);
    for (const c of NAMES) {
      expect(second.stdout).toMatch(new RegExp(`^config: +/etc/roadlog/${c}.yaml exists, left as is`, 'm'));
      expect(second.stdout).toMatch(new RegExp(`^unit: +/etc/systemd/system/roadlog-${c}.service unchanged`, 'm'));
    }
    expect(second.stdout).toMatch(/^users: +\/etc\/roadlog\/console-users exists, left as is/m);
    const after = await snapshot(root);
    expect([...after.entries()]).toEqual([...before.entries()]);
    expect(await readFile(config, 'utf8')).toMatch(/# edited by the operator\n$/);
    expect(await readFile(join(root, USERS), 'utf8')).toMatch(/^alice: operator: scrypt\$/m);
  }, 120_000);

  it.skipIf(!HAS_SYSTEMD_ANALYZE)(HAS_SYSTEMD_ANALYZE ? 'systemd-analyze verify accepts every unit, without a single warning' : `systemd-analyze verify: skipped, ${SYSTEMD_ANALYZE} is not installed`, async () => {
    // verify --root needs the distribution's units (sysinit.target, multi-user.target) in the
    // root; ExecStart is looked up inside it, so a missing /opt/roadlog/bin/roadlog would fail.
    await cp('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true });
    const verify = await run(SYSTEMD_ANALYZE, ['verify', `--root=${root}`, '--man=no', ...NAMES.map(unitName)]);
    expect(verify.stderr).toBe('');
    expect(verify.code).toBe(0);
  });

  it.skipIf(!HAS_SYSTEMD_ANALYZE)(HAS_SYSTEMD_ANALYZE ? 'systemd-analyze security rates every unit OK (exposure at most 3.5 of 10)' : `systemd-analyze security: skipped, ${SYSTEMD_ANALYZE} is not installed`, async () => {
    if (!existsSync(join(root, 'usr/lib/systemd/system'))) await cp('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true });
    for (const c of NAMES) {
      const security = await run(SYSTEMD_ANALYZE, ['security', '--offline=yes', `--root=${root}`, '--no-pager', unitName(c)]);
      // --offline needs systemd >= 250; older ones say so and the check has nothing to read.
      if (/unrecognized option|Unknown option/i.test(security.stderr)) return;
      const exposure = Number(new RegExp(`Overall exposure level for roadlog-${c}\\.service: ([\\d.]+)`).exec(security.stdout)?.[1]);
      expect(exposure, security.stdout + security.stderr).toBeLessThanOrEqual(3.5);
    }
  });

  it('--from the unpacked tarball\'s package/ folder packs it again to the same bytes: nothing to install', async () => {
    const unpacked = join(work, 'unpacked');
    await mkdir(unpacked);
    expect((await run('tar', ['-xzf', tarball, '-C', unpacked])).code).toBe(0);
    const r = await run('bash', [INSTALL, '--root', root, '--from', join(unpacked, 'package'), '--no-systemctl']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^package: \/opt\/roadlog unchanged/m);
  });

  it('refuses an unknown component before writing anything', async () => {
    const other = join(work, 'never');
    const r = await run('bash', [INSTALL, '--root', other, '--from', tarball, '--components', 'hot,archiver']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown component "archiver" (choose from hot cold influx-sink console)');
    expect(existsSync(other)).toBe(false);
  });

  it('where the gateway install of the same tarball came first, installs again with the optional dependencies it left out; the gateway\'s script then keeps them', async () => {
    const other = join(work, 'gateway-first');
    const gateway = (): Promise<Run> => run('bash', [join(REPO, 'infra/gateway/install.sh'), '--root', other, '--from', tarball, '--no-systemctl']);
    const duckdb = join(other, 'opt/roadlog/lib/node_modules/roadlog/node_modules/@duckdb/node-api');
    expect((await gateway()).code).toBe(0);
    expect(existsSync(duckdb)).toBe(false);
    // Same tarball, so the same sha256 in the stamp: only the missing packages tell.
    const cloud = await run('bash', [INSTALL, '--root', other, '--from', tarball, '--components', 'console']);
    expect(cloud.code, cloud.stderr).toBe(0);
    expect(cloud.stdout).toMatch(/^package: npm install --global --prefix \/opt\/roadlog .*\(runtime and optional dependencies\)/m);
    expect(existsSync(duckdb)).toBe(true);
    const again = await gateway();
    expect(again.stdout).toMatch(/^package: \/opt\/roadlog unchanged/m);
    expect(existsSync(duckdb)).toBe(true);
  }, 180_000);
});
