import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setPassword } from '../../../cloud/console/users.js';
import { exampleTelemetry } from '../../../shared/schema/index.js';
import { archiveFromMessages } from '../../support/archive.js';
import { httpBaseOf, runCli, startCli } from '../../support/cli.js';

/**
 * The console's page in a real Chromium (Debian's, driven by playwright-core): log in with the
 * keyboard, the reports with their charts and the same L/100 km as `roadlog report fleet`,
 * another report grouped by day, CSV download link, log out; every control named; no error in
 * the browser's console (a Content-Security-Policy violation is one). Screenshots go to
 * test-results/console/ on every run.
 */
const CHROMIUM = process.env.ROADLOG_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = join(process.cwd(), 'test-results', 'console');
let dir: string;
let users: string;
let archive: string;
let browser: Browser;
const env = { ROADLOG_KAFKA_BROKERS: '127.0.0.1:1', ROADLOG_LOG_LEVEL: 'error' };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'roadlog-console-page-'));
  users = join(dir, 'users');
  await setPassword(users, 'vic', 'viewer', 'viewer-secret');
  archive = join(dir, 'archive');
  const t0 = Date.parse('2026-03-01T22:00:00Z');
  const lines: string[] = [];
  for (const [v, k] of [['A', 1], ['B', 2]] as const) {
    for (let i = 0; i < 3 * 3600; i++) lines.push(JSON.stringify(exampleTelemetry({ vehicleId: v, seq: i, ts: t0 + i * 1000, speedKph: i % 600 < 100 ? 0 : 40 * k, engineRpm: 900, odometerKm: 1000 + (i * k) / 90, fuelUsedL: 50 + (i * k * k) / 9000, dtcs: [] })));
  }
  await writeFile(join(dir, 'm.jsonl'), lines.join('\n'));
  await archiveFromMessages(join(dir, 'm.jsonl'), archive, { topic: 't.telemetry.v1' });
  await mkdir(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
});

afterAll(async () => {
  await browser?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('console page (Chromium)', () => {
  it('log in, read the reports (charts, the CLI\'s numbers, another report by day), log out; named controls, no console error', async () => {
    const c = startCli(['console', '--port', '0', '--users', users, '--archive', archive], { env });
    const errors: string[] = [];
    try {
      const base = await httpBaseOf(c, 'roadlog console');
      const page = await browser.newPage();
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(base);
      await expect.poll(() => page.locator('#login').isVisible()).toBe(true);
      await page.screenshot({ path: join(SHOTS, 'login.png') });
      // Every control has a name a screen reader says.
      const unnamed = await page.evaluate<string[]>(`[...document.querySelectorAll('input, select, button')]
        .filter((el) => !((el.labels && el.labels.length > 0) || el.textContent.trim() !== '' || el.getAttribute('aria-label') !== null))
        .map((el) => el.outerHTML)`);
      expect(unnamed).toEqual([]);
      // A wrong password says so; the right one, typed and sent with Enter, opens the reports.
      await page.getByLabel('User').fill('vic');
      await page.getByLabel('Password').fill('not-it-at-all');
      await page.keyboard.press('Enter');
      await expect.poll(() => page.getByRole('alert').textContent()).toBe('Wrong user or password.');
      await page.getByLabel('Password').fill('viewer-secret');
      await page.keyboard.press('Enter');
      // The alerts page comes first; without Kafka it says why it has no feed.
      await expect.poll(() => page.locator('#alerts-status').textContent(), { timeout: 20_000 }).toMatch(/^No alert feed yet: /);
      await page.getByRole('link', { name: 'Reports' }).click();
      await expect.poll(() => page.locator('#report-status').textContent(), { timeout: 20_000 }).toBe('Fleet: 2 rows.');
      expect(await page.locator('#who').textContent()).toBe('vic (viewer)');
      expect(await page.locator('#charts svg').count()).toBe(4);
      const cli = await runCli(['report', 'fleet', '--archive', archive, '--format', 'json'], { env });
      const lPer100 = (JSON.parse(cli.stdout) as { vehicleId: string; lPer100km: number }[]).find((r) => r.vehicleId === 'B')!.lPer100km;
      const headers = await page.locator('#table th').allTextContents();
      const rowB = await page.locator('#table tr', { hasText: 'B' }).last().locator('td').allTextContents();
      expect(rowB[headers.indexOf('lPer100km')]).toBe(lPer100.toLocaleString('en-US', { maximumFractionDigits: 2 }));
      await page.screenshot({ path: join(SHOTS, 'reports-fleet.png'), fullPage: true });
      // Another report, grouped by day, chosen with the keyboard's controls.
      await page.getByLabel('Report', { exact: true }).selectOption('fuel');
      await page.getByLabel('Group by').selectOption('day');
      await page.getByRole('button', { name: 'Show' }).click();
      await expect.poll(() => page.locator('#report-status').textContent(), { timeout: 20_000 }).toBe('Fuel economy: 2 rows.');
      expect(await page.locator('#table caption').textContent()).toBe('Fuel economy by day');
      expect(await page.locator('#csv').getAttribute('href')).toBe('/api/reports/fuel?groupBy=day&format=csv');
      const download = await page.evaluate<string>(`fetch(${JSON.stringify(await page.locator('#csv').getAttribute('href'))}).then((r) => r.text())`);
      expect(download.split('\n')[0]).toMatch(/^day,vehicles,distanceKm,fuelL,lPer100km/);
      await page.screenshot({ path: join(SHOTS, 'reports-fuel-by-day.png'), fullPage: true });
      await page.getByRole('button', { name: 'Log out' }).click();
      await expect.poll(() => page.locator('#login').isVisible()).toBe(true);
      expect(await page.evaluate<number>("fetch('/api/me').then((r) => r.status)")).toBe(401);
    } finally {
      c.child.kill('SIGTERM');
    }
    expect((await c.exited).code).toBe(0);
    // The browser logs each refused request (the first /api/me, the wrong password, the probe after logging out): those 401s are the point; nothing else may be there.
    expect(errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
  });
});
