import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

/**
 * `npm run test:quickstart`: the README's quick start, word for word, as a new user runs it.
 * A fresh HOME (no npm cache, no Maven repository, no ~/.roadlog), a `git clone` of the
 * repository (its committed HEAD, what a user gets), then in the clone:
 *
 *   bash infra/bootstrap.sh
 *   npm start
 *
 * and Debian's Chromium opens the console URL `npm start` prints, logs in with the user and
 * password it prints, and waits for the first alert row on the alerts page. It reports how long
 * each step took and the time from `npm start` to that first alert (the promise: within 2
 * minutes), takes a screenshot, then Ctrl-C (SIGINT to `npm start`'s process group) and checks
 * that everything stopped with exit 0. Results: test/e2e/results/quickstart.md (+ .png).
 *
 *   npm run test:quickstart -- [--repo PATH_OR_URL] [--keep-home]
 *
 * It needs root for bootstrap's apt-get step (or the packages already there), and the
 * registries: npm and Maven Central (Debian's for missing packages).
 */
const { values: f } = parseArgs({
  options: {
    repo: { type: 'string', default: join(import.meta.dirname, '..', '..') },
    'keep-home': { type: 'boolean', default: false },
    results: { type: 'string', default: join(import.meta.dirname, 'results', 'quickstart.md') },
    help: { type: 'boolean', default: false },
  },
});
if (f.help) {
  process.stdout.write('npm run test:quickstart -- [--repo PATH_OR_URL] [--keep-home] [--results FILE]\n');
  process.exit(0);
}

const home = await mkdtemp(join(tmpdir(), 'roadlog-newuser-'));
const clone = join(home, 'roadlog');
// A new user's environment: the machine's (its CA bundle and proxy settings stay: a user of this machine kind has
// them), but their own HOME, the system PATH (no Node 24 on it until bootstrap puts one there) and none of what
// `npm run` or roadlog put in ours.
const env: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|ROADLOG_|INIT_CWD$|NODE_OPTIONS$|NODE_PATH$|OLDPWD$|PWD$)/i.test(k))),
  HOME: home,
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  TERM: 'dumb',
};
const steps: { step: string; seconds: number; ok: boolean; note: string }[] = [];
const t = () => performance.now();
const say = (line: string) => process.stdout.write(`quickstart: ${line}\n`);

function step(name: string, cmd: string, args: string[], cwd: string): boolean {
  say(`$ ${[cmd, ...args].join(' ')}   (in ${cwd})`);
  const t0 = t();
  const r = spawnSync(cmd, args, { cwd, env, stdio: ['ignore', 'inherit', 'inherit'], timeout: 30 * 60_000 });
  const ok = r.status === 0;
  steps.push({ step: name, seconds: (t() - t0) / 1000, ok, note: ok ? '' : `exit ${r.status ?? r.signal}` });
  return ok;
}

/** Processes whose command line names a path under `dir` (what the demo started from the clone), as "pid command". */
function leftovers(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      if (cmd.includes(dir)) found.push(`${pid} ${cmd.slice(0, 80)}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

let firstAlertSeconds: number | undefined;
let stopNote = '';
let ok = step('git clone', 'git', ['clone', '--quiet', f.repo!, clone], home) && step('bash infra/bootstrap.sh', 'bash', ['infra/bootstrap.sh'], clone);
if (ok) {
  say('$ npm start');
  const t0 = t();
  // Its own process group, as a terminal gives it; Ctrl-C is SIGINT to that group.
  const start = spawn('npm', ['start'], { cwd: clone, env, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  let out = '';
  start.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    process.stdout.write(d);
  });
  const exited = new Promise<string>((resolve) => start.once('close', (code, signal) => resolve(code === null ? String(signal) : `exit ${code}`)));
  const browser = await chromium.launch({ executablePath: process.env.ROADLOG_CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
  try {
    const deadline = Date.now() + 10 * 60_000;
    let m: RegExpExecArray | null = null;
    while ((m = /^console\s+(\S+)\s+user (\S+)\s+password (\S+)/m.exec(out)) === null) {
      if (start.exitCode !== null || Date.now() > deadline) throw new Error(`npm start printed no console line (exit ${start.exitCode})`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const [, url, user, password] = m;
    steps.push({ step: 'npm start → console URL printed', seconds: (t() - t0) / 1000, ok: true, note: url! });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(url!);
    await page.getByLabel('User').fill(user!);
    await page.getByLabel('Password').fill(password!);
    await page.getByRole('button', { name: /log in/i }).click();
    await page.locator('#alerts').waitFor({ state: 'visible', timeout: 30_000 });
    steps.push({ step: 'logged in (alerts page)', seconds: (t() - t0) / 1000, ok: true, note: `user ${user}` });
    await page.locator('#alerts-table tr[data-alert-id]').first().waitFor({ state: 'visible', timeout: 5 * 60_000 });
    firstAlertSeconds = (t() - t0) / 1000;
    const first = (await page.locator('#alerts-table tr[data-alert-id]').first().innerText()).replace(/\s+/g, ' ').slice(0, 120);
    steps.push({ step: 'npm start → first alert on the console', seconds: firstAlertSeconds, ok: firstAlertSeconds <= 120, note: first });
    await page.screenshot({ path: f.results!.replace(/\.md$/, '.png'), fullPage: false });
  } catch (err) {
    ok = false;
    steps.push({ step: 'console', seconds: (t() - t0) / 1000, ok: false, note: (err as Error).message.split('\n')[0]! });
  } finally {
    await browser.close();
    const t1 = t();
    process.kill(-start.pid!, 'SIGINT');
    const how = await exited;
    stopNote = /^stopped: .*$/m.exec(out)?.[0] ?? 'no "stopped:" line';
    // npm passes Ctrl-C on to the demo and, once it has stopped, ends itself by the same signal (a shell shows 130):
    // so the proof is the demo's own "stopped:" line and that nothing started from the clone still runs.
    const left = leftovers(home);
    const stopped = (how === 'exit 0' || how === 'SIGINT') && stopNote.startsWith('stopped:') && left.length === 0;
    steps.push({ step: 'Ctrl-C → everything stopped', seconds: (t() - t1) / 1000, ok: stopped, note: `npm start: ${how}; ${stopNote}; ${left.length === 0 ? 'no process left' : `left running: ${left.join(', ')}`}` });
  }
}
ok = ok && steps.every((s) => s.ok);
const table = ['| step | seconds | | note |', '| --- | ---: | --- | --- |', ...steps.map((s) => `| ${s.step} | ${s.seconds.toFixed(1)} | ${s.ok ? 'ok' : 'FAIL'} | ${s.note.replaceAll('|', '\\|')} |`)].join('\n');
process.stdout.write(`\n${table}\n${ok ? 'quickstart: every step passed' : 'quickstart: FAILED'}\n`);
const machine = `${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB`;
await mkdir(join(f.results!, '..'), { recursive: true });
await writeFile(f.results!, `# Quick start, as a new user\n\n${new Date().toISOString().slice(0, 10)} · \`npm run test:quickstart\` · ${machine} · a fresh HOME, \`git clone\` of ${f.repo === join(import.meta.dirname, '..', '..') ? 'this repository' : f.repo}, then the README's two commands\n\n${table}\n\n![the console at the first alert](quickstart.png)\n`);
if (!f['keep-home']) await rm(home, { recursive: true, force: true });
process.exit(ok ? 0 : 1);
