import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startInflux, stopInflux, type InfluxInfo } from '../../../infra/influx/server.js';
import { readToEnd } from '../../../cloud/admin/read-to-end.js';
import { setPassword } from '../../../cloud/console/users.js';
import type { AlertEvent } from '../../../shared/alerts/index.js';
import { DEAD_LETTER_HEADER, encodeEnvelopeHeaders } from '../../../shared/envelope/index.js';
import { partitionForKey } from '../../../shared/partitioner/index.js';
import { exampleTelemetry, type Telemetry } from '../../../shared/schema/index.js';
import { httpBaseOf, runCli, startCli } from '../../support/cli.js';
import { randomName, testKafka, waitFor } from '../../support/kafka.js';

/**
 * The console against a real run: Kafka, the hot path, the archiver, the InfluxDB sink and a real
 * InfluxDB, all as the built CLI, and two browsers (Debian's Chromium through playwright-core),
 * an operator's and a viewer's. Telemetry is produced the way a gateway's forwarder sends it
 * (envelope headers, the vehicle's partition), heartbeats and a dead letter likewise.
 * - an injected overheating shows on both alerts pages within 2 s of the hot path detecting it;
 * - the operator's ack is a command in Kafka and comes back, as the hot path's event, to the
 *   viewer's page; the viewer has no ack button and the API refuses it (403), a request
 *   without the CSRF token is refused (403), one without a session too (401), each counted;
 * - vehicle, reports, events, gateways and health pages show that run's data; the report's
 *   L/100 km equals `roadlog report fleet`; a group's lag in device time is the records' own;
 * - every control named, the pages reached with the keyboard, no error in either browser's
 *   console; screenshots of each page in test-results/console/.
 */
const CHROMIUM = process.env.ROADLOG_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = join(process.cwd(), 'test-results', 'console');
const brokers = inject('kafkaBrokers');
const prefix = randomName('console');
const env = { ROADLOG_HOME: inject('roadlogHome'), ROADLOG_KAFKA_BROKERS: brokers, ROADLOG_LOG_LEVEL: 'warn', ROADLOG_TOPICS_PREFIX: prefix };
const kafka = testKafka(brokers);
const running: ReturnType<typeof startCli>[] = [];
let root: string;
let influx: InfluxInfo;
let browser: Browser;
let partitions: number;
const edgeOffsets = new Map<string, bigint>();

function start(args: string[], extraEnv: Record<string, string> = {}): ReturnType<typeof startCli> {
  const c = startCli(args, { env: { ...env, ...extraEnv } });
  running.push(c);
  return c;
}

/** Records as a gateway's forwarder sends them: the vehicle's partition, envelope headers. */
async function send(records: Telemetry[], gatewayId = 'gw-1'): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await producer.send({
    topic: `${prefix}.telemetry.v1`,
    acks: -1,
    messages: records.map((t) => {
      const edgeOffset = edgeOffsets.get(gatewayId) ?? 0n;
      edgeOffsets.set(gatewayId, edgeOffset + 1n);
      return { partition: partitionForKey(t.vehicleId, partitions), key: t.vehicleId, value: JSON.stringify(t), headers: encodeEnvelopeHeaders({ gatewayId, edgeLog: 'c0ffee00c0ffee00', edgeLane: 'normal', edgePartition: 0, edgeOffset, schemaVersion: 1, ingestTs: Date.now() }) };
    }),
  });
  await producer.disconnect();
}

async function heartbeat(gatewayId: string, at: number, backlog: number): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  const status = { gatewayId, at, connected: true, lastAckAt: at, forwardedRecords: 100, backlog: { records: backlog, bytes: backlog * 400, oldestIngestTs: backlog > 0 ? at - 90_000 : undefined, oldestDeviceTs: backlog > 0 ? at - 95_000 : undefined, drainRate: backlog > 0 ? 40 : 0, etaSeconds: backlog > 0 ? backlog / 40 : undefined } };
  await producer.send({ topic: `${prefix}.gateway-status.v1`, acks: -1, messages: [{ key: gatewayId, value: JSON.stringify(status) }] });
  await producer.disconnect();
}

/** A minute of driving for each vehicle, up to now (device time): 50 km/h, fuel burning, coolant normal. */
function drive(ids: string[], seconds: number, endTs: number, seq0 = 0): Telemetry[] {
  const out: Telemetry[] = [];
  for (let i = 0; i < seconds; i++) {
    for (const [k, vehicleId] of ids.entries()) {
      const ts = endTs - (seconds - 1 - i) * 1000;
      out.push(exampleTelemetry({ vehicleId, seq: seq0 + i, ts, speedKph: 50, engineRpm: 1800, coolantC: 90 + k, odometerKm: 1000 + (seq0 + i) * (50 / 3600), fuelUsedL: 100 + (seq0 + i) * 0.002 * (k + 1), dtcs: [] }));
    }
  }
  return out;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'roadlog-console-live-'));
  await mkdir(SHOTS, { recursive: true });
  const apply = await runCli(['topics', 'apply'], { env });
  expect(apply.code, apply.stderr).toBe(0);
  const admin = kafka.admin();
  await admin.connect();
  const { waitForLeaders } = await import('../../../cloud/admin/topics.js');
  await waitForLeaders(admin, ['telemetry', 'alerts', 'alert-commands', 'gateway-status', 'dead-letters', 'hot-state'].map((t) => `${prefix}.${t}.v1`));
  partitions = (await admin.fetchTopicMetadata({ topics: [`${prefix}.telemetry.v1`] })).topics[0]!.partitions.length;
  await admin.disconnect();
  [influx, browser] = await Promise.all([startInflux({ dir: join(root, 'influx') }), chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] })]);
});

afterAll(async () => {
  await browser?.close();
  for (const r of running) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  await stopInflux(join(root, 'influx')).catch(() => undefined);
  await rm(root, { recursive: true, force: true });
});

async function login(page: Page, base: string, user: string, password: string): Promise<void> {
  await page.goto(base);
  await page.getByLabel('User').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.keyboard.press('Enter');
  await expect.poll(() => page.locator('#alerts').isVisible(), { timeout: 10_000 }).toBe(true);
}

function watchErrors(page: Page, errors: string[]): void {
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
}

describe('console against a real run (Kafka, hot path, archiver, sink, InfluxDB; two Chromium sessions)', () => {
  it('live alerts, ack round trip, refusals, and every page with the run\'s data', async () => {
    const users = join(root, 'users');
    await setPassword(users, 'olga', 'operator', 'operator-secret');
    await setPassword(users, 'vic', 'viewer', 'viewer-secret');
    const archive = join(root, 'archive');
    await mkdir(archive);
    const now = Date.now();
    const vehicles = ['CV-0001', 'CV-0002'];
    await send(drive(vehicles, 120, now - 1000));
    await heartbeat('gw-1', Date.now(), 0);
    await heartbeat('gw-2', Date.now() - 300_000, 1200);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: `${prefix}.dead-letters.v1`, acks: -1, messages: [{ key: 'CV-0001', value: '{"vehicleId":"CV-0001","speedKph":"fast"}', headers: { [DEAD_LETTER_HEADER.reason]: 'schema', [DEAD_LETTER_HEADER.code]: 'ROADLOG_ERR_SCHEMA_INVALID', [DEAD_LETTER_HEADER.message]: 'speedKph: expected number, received string', 'roadlog.gateway': 'gw-1' } }] });
    await producer.disconnect();

    const hot = start(['hot', 'start', '--instance', 'c1', '--http-port', '0']);
    const hotBase = await httpBaseOf(hot, 'the hot path');
    start(['cold', 'start', '--archive', archive, '--http-port', '0'], { ROADLOG_COLD_FLUSH_MAX_AGE_MS: '1000' });
    start(['influx-sink', 'start', '--url', influx.url, '--http-port', '0']);
    const c = start(['console', '--port', '0', '--users', users, '--archive', archive, '--metrics', `${hotBase}/metrics`, '--influx', influx.url]);
    const base = await httpBaseOf(c, 'the console');

    const errors: string[] = [];
    const operator = await browser.newContext();
    const viewer = await browser.newContext();
    const a = await operator.newPage();
    const b = await viewer.newPage();
    watchErrors(a, errors);
    watchErrors(b, errors);
    await login(a, base, 'olga', 'operator-secret');
    await login(b, base, 'vic', 'viewer-secret');
    for (const p of [a, b]) await expect.poll(() => p.locator('#live').textContent()).toBe('live');

    // An injected fault: CV-0001 overheats. Both pages show it within 2 s of detection.
    const hotRecord = exampleTelemetry({ vehicleId: 'CV-0001', seq: 120, ts: Date.now(), speedKph: 50, coolantC: 118.5, odometerKm: 1000 + 120 * (50 / 3600), fuelUsedL: 100 + 120 * 0.002, dtcs: [] });
    await send([hotRecord]);
    const row = (p: Page) => p.locator('#alerts-table tr', { hasText: 'overheating' }).first();
    await expect.poll(() => row(a).count(), { timeout: 30_000 }).toBe(1);
    await expect.poll(() => row(b).count(), { timeout: 10_000 }).toBe(1);
    const alertId = (await row(a).getAttribute('data-alert-id'))!;
    const alert = (await (await a.request.get(`${base}/api/alerts`)).json() as { alerts: AlertEvent[] }).alerts.find((x) => x.alertId === alertId)!;
    expect(alert).toMatchObject({ vehicleId: 'CV-0001', category: 'overheating', state: 'open', value: 118.5, late: false });
    for (const p of [a, b]) {
      const shownAt = Number(await row(p).getAttribute('data-shown-at'));
      expect(shownAt - alert.detectedAt, 'ms from the hot path detecting it to the page showing it').toBeLessThan(2_000);
    }
    console.log(`console: the overheating alert showed ${Number(await row(a).getAttribute('data-shown-at')) - alert.detectedAt} ms after the hot path detected it`);
    expect(await row(a).textContent()).toContain('118.5');
    await a.screenshot({ path: join(SHOTS, 'alerts.png'), fullPage: true });

    // The viewer cannot ack: no button, and the API says 403 even with the session's token.
    expect(await b.locator('button[data-action]').count()).toBe(0);
    const viewerCsrf = await b.evaluate<string>("fetch('/api/me').then((r) => r.json()).then((m) => m.csrfToken)");
    expect(await b.evaluate<number>(`fetch('/api/alerts/${alertId}/ack', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': ${JSON.stringify(viewerCsrf)} }, body: '{}' }).then((r) => r.status)`)).toBe(403);
    // A forged request (the operator's cookie, no token) is refused; no session at all is 401.
    expect(await a.evaluate<number>(`fetch('/api/alerts/${alertId}/ack', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }).then((r) => r.status)`)).toBe(403);
    expect((await (await browser.newContext()).request.get(`${base}/api/alerts`)).status()).toBe(401);

    // The operator acks with the keyboard; the command is in Kafka, the event comes back to the viewer.
    await a.getByRole('button', { name: 'Ack overheating alert on CV-0001' }).focus();
    await a.keyboard.press('Enter');
    await expect.poll(() => row(b).getAttribute('data-state'), { timeout: 15_000 }).toBe('ack');
    expect(await row(b).textContent()).toContain('acknowledged by olga');
    const commands: unknown[] = [];
    await readToEnd(kafka, `${prefix}.alert-commands.v1`, (_p, m) => commands.push(JSON.parse(m.value!.toString())), { timeoutMs: 15_000, transactional: false, what: 'commands' });
    expect(commands).toEqual([expect.objectContaining({ v: 1, alertId, action: 'ack', by: 'olga' })]);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const reason of ['role', 'csrf', 'no_session']) expect(metrics).toMatch(new RegExp(`roadlog_console_denied_total\\{reason="${reason}"[^}]*\\} [1-9]`));
    await b.screenshot({ path: join(SHOTS, 'alerts-viewer-acked.png'), fullPage: true });

    // Vehicle page: InfluxDB's telemetry as charts, its gateway, its alert, its report figures.
    await waitFor(async () => {
      const res = (await (await fetch(`${influx.url}/query?db=roadlog&q=${encodeURIComponent("SELECT count(speedKph) FROM telemetry WHERE vehicleId = 'CV-0001'")}`)).json()) as { results: { series?: { values: [string, number][] }[] }[] };
      return res.results[0]?.series?.[0]?.values[0]?.[1] === 121 ? true : undefined;
    }, 60_000, "CV-0001's records in InfluxDB");
    await a.getByRole('link', { name: 'vehicle CV-0001' }).first().click();
    await expect.poll(() => a.locator('#vehicle-status').textContent(), { timeout: 60_000 }).toMatch(/^Gateway: gw-1\. Telemetry .* 121 records/);
    expect(await a.locator('#vehicle-charts svg').count()).toBe(5);
    expect(await a.locator('#vehicle-alerts tr', { hasText: 'overheating' }).count()).toBe(1);
    await expect.poll(() => a.locator('#vehicle-report caption').textContent(), { timeout: 30_000 }).toMatch(/Fleet report figures of CV-0001/);
    await a.screenshot({ path: join(SHOTS, 'vehicle.png'), fullPage: true });

    // Reports: the archive the archiver wrote, the CLI's numbers.
    await waitFor(async () => ((await readdir(archive, { recursive: true })).some((f) => String(f).endsWith('.parquet')) ? true : undefined), 60_000, 'the archiver to write');
    await waitFor(async () => {
      const r = await runCli(['report', 'fleet', '--archive', archive, '--format', 'json'], { env });
      const rows = JSON.parse(r.stdout) as { vehicleId: string; samples: number }[];
      return rows.reduce((n, x) => n + x.samples, 0) === 241 ? true : undefined;
    }, 60_000, 'every record in the archive');
    const cli = JSON.parse((await runCli(['report', 'fleet', '--archive', archive, '--format', 'json'], { env })).stdout) as { vehicleId: string; lPer100km: number }[];
    await a.getByRole('link', { name: 'Reports' }).click();
    await expect.poll(() => a.locator('#report-status').textContent(), { timeout: 30_000 }).toBe('Fleet: 2 rows.');
    const headers = await a.locator('#table th').allTextContents();
    for (const v of cli) {
      const cells = await a.locator('#table tr', { hasText: v.vehicleId }).locator('td').allTextContents();
      expect(cells[headers.indexOf('lPer100km')]).toBe(v.lPer100km.toLocaleString('en-US', { maximumFractionDigits: 2 }));
    }
    await a.screenshot({ path: join(SHOTS, 'reports.png'), fullPage: true });

    // Events: topics, a group's lag in records and device time, records, find a vehicle, a live tail, dead letters.
    const telemetry = `${prefix}.telemetry.v1`;
    const p1 = partitionForKey('CV-0001', partitions);
    const lagGroup = randomName('lagging');
    const admin = kafka.admin();
    await admin.connect();
    const high = Number((await admin.fetchTopicOffsets(telemetry)).find((e) => e.partition === p1)!.high);
    await admin.setOffsets({ groupId: lagGroup, topic: telemetry, partitions: [{ partition: p1, offset: String(high - 11) }] });
    await admin.disconnect();
    await a.getByRole('link', { name: 'Events' }).click();
    await expect.poll(() => a.locator('#topics-table').textContent(), { timeout: 15_000 }).toContain(telemetry);
    await a.getByRole('button', { name: `Describe topic ${telemetry}` }).click();
    await expect.poll(() => a.locator('#topic-detail caption').first().textContent()).toBe(`Partitions of ${telemetry}`);
    await expect.poll(() => a.locator(`#groups-table tr[data-group="${lagGroup}"]`).count(), { timeout: 30_000 }).toBe(1);
    const groups = (await (await a.request.get(`${base}/api/groups`)).json()) as { groups: { groupId: string; lag: number; lagSeconds: number; topics: { clock: string }[] }[] };
    const lagging = groups.groups.find((g) => g.groupId === lagGroup)!;
    // The partition's last 11 records: CV-0001's last ten seconds of driving and the hot record (and CV-0002's, if it shares the partition).
    expect(lagging.lag).toBe(11);
    expect(lagging.topics[0]!.clock).toBe('device');
    const sharing = partitionForKey('CV-0002', partitions) === p1;
    if (!sharing) expect(lagging.lagSeconds).toBeCloseTo((hotRecord.ts - (now - 1000 - 10_000 + 1000)) / 1000, 0);
    else expect(lagging.lagSeconds).toBeGreaterThan(0);
    await a.getByLabel('Topic', { exact: true }).first().selectOption(telemetry);
    await a.getByLabel('Partition').fill(String(p1));
    await a.getByLabel('From offset (empty: the last ones)').fill('0');
    await a.getByLabel('How many').fill('5');
    await a.getByRole('button', { name: 'Read' }).click();
    await expect.poll(() => a.locator('#records article').count(), { timeout: 15_000 }).toBe(5);
    expect(await a.locator('#records article h3').first().textContent()).toMatch(new RegExp(`\\[${p1}\\] @0 `));
    expect(await a.locator('#records pre.headers').first().textContent()).toContain('roadlog.gateway: gw-1');
    await a.getByLabel('Vehicle id').last().fill('CV-0001');
    await a.getByRole('button', { name: 'Find' }).click();
    await expect.poll(() => a.locator('#find p').textContent(), { timeout: 15_000 }).toMatch(new RegExp(`^Key CV-0001 → ${telemetry} partition ${p1}\\. 20 latest`));
    expect(await a.locator('#find article h3').first().textContent()).toContain('key CV-0001');
    await a.locator('#tail-topic').selectOption(telemetry);
    await a.getByLabel('Key (optional)').fill('CV-0002');
    await a.getByRole('button', { name: 'Start tail' }).click();
    await expect.poll(() => a.locator('#tail-status').textContent(), { timeout: 30_000 }).toMatch(/^Tailing/);
    // A tail reads from the end as of its first fetch: send both vehicles' records until one shows; only CV-0002's may.
    let sent = 0;
    await waitFor(async () => {
      sent += 1;
      await send([exampleTelemetry({ vehicleId: 'CV-0002', seq: 998 + sent, ts: Date.now(), dtcs: [] }), exampleTelemetry({ vehicleId: 'CV-0001', seq: 998 + sent, ts: Date.now(), dtcs: [] })]);
      return (await a.locator('#tail article').count()) > 0 ? true : undefined;
    }, 15_000, 'the tail to show a record', 1_000);
    for (const h of await a.locator('#tail article h3').allTextContents()) expect(h).toMatch(/key CV-0002$/);
    expect(await a.locator('#tail article pre').last().textContent()).toMatch(/"seq": 99\d/);
    await a.getByRole('button', { name: 'Stop tail' }).click();
    await a.getByRole('button', { name: 'Load dead letters' }).click();
    await expect.poll(() => a.locator('#dead tbody tr').count(), { timeout: 15_000 }).toBe(1);
    expect(await a.locator('#dead tbody tr').textContent()).toMatch(/schemaROADLOG_ERR_SCHEMA_INVALIDspeedKph: expected number/);
    await a.screenshot({ path: join(SHOTS, 'events.png'), fullPage: true });

    // Gateways: gw-1 beating, gw-2 silent for 5 minutes with a backlog; reached with the keyboard.
    await heartbeat('gw-1', Date.now(), 0);
    await a.getByRole('link', { name: 'Gateways' }).focus();
    await a.keyboard.press('Enter');
    await expect.poll(() => a.locator('#gateways-table tr[data-gateway-id]').count(), { timeout: 15_000 }).toBe(2);
    expect(await a.locator('#gateways-table tr[data-gateway-id="gw-1"]').getAttribute('data-offline')).toBe('false');
    expect(await a.locator('#gateways-table tr[data-gateway-id="gw-2"]').getAttribute('data-offline')).toBe('true');
    expect(await a.locator('#gateways-table tr[data-gateway-id="gw-2"]').textContent()).toMatch(/offline.*1,200.*30\.0 s/);
    await a.screenshot({ path: join(SHOTS, 'gateways.png'), fullPage: true });

    // Health: the hot path's latency histograms, dead letters per minute.
    await a.getByRole('link', { name: 'Health' }).click();
    await expect.poll(() => a.locator('#health-status').textContent(), { timeout: 15_000 }).toBe('1 of 1 components answer.');
    const latency = await a.locator('#health-body table').first().locator('tbody tr', { hasText: 'device → Kafka' }).locator('td').allTextContents();
    expect(Number(latency[1]!.replace(/,/g, ''))).toBeGreaterThanOrEqual(241);
    const perMinute = await a.locator('#health-body table', { hasText: 'Dead letters per minute' }).locator('tbody td:nth-child(2)').allTextContents();
    expect(perMinute.reduce((n, x) => n + Number(x), 0)).toBe(1);
    await a.screenshot({ path: join(SHOTS, 'health.png'), fullPage: true });

    // Every control on every page has a name; Tab reaches the pages' links and the alert filters.
    const unnamed = await a.evaluate<string[]>(`[...document.querySelectorAll('input, select, button')]
      .filter((el) => !((el.labels && el.labels.length > 0) || el.textContent.trim() !== '' || el.getAttribute('aria-label') !== null))
      .map((el) => el.outerHTML)`);
    expect(unnamed).toEqual([]);
    await a.goto(`${base}/#alerts`);
    await a.reload();
    await expect.poll(() => a.locator('#alerts-table tr', { hasText: 'overheating' }).count()).toBe(1);
    const reached: string[] = [];
    for (let i = 0; i < 20; i++) {
      await a.keyboard.press('Tab');
      reached.push(await a.evaluate<string>("document.activeElement.getAttribute('aria-label') || (document.activeElement.labels && document.activeElement.labels[0] ? document.activeElement.labels[0].textContent : '') || document.activeElement.textContent.trim()"));
    }
    expect(reached.slice(0, 8)).toEqual(['Skip to the page', 'Alerts', 'Vehicle', 'Reports', 'Events', 'Gateways', 'Health', 'Log out']);
    for (const name of ['Alerts', 'Vehicle', 'Reports', 'Events', 'Gateways', 'Health', 'Log out', 'Show', 'Severity', 'Category', 'Vehicle', 'Gateway']) expect(reached).toContain(name);

    await operator.close();
    await viewer.close();
    c.child.kill('SIGTERM');
    expect((await c.exited).code).toBe(0);
    // Refused requests are logged by the browser (401 before logging in, the 403s above): those are the point; nothing else may be there.
    expect(errors.filter((e) => !/status of 40[13]/.test(e))).toEqual([]);
  });
});
