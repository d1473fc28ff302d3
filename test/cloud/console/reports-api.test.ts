import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerReportsApi } from '../../../cloud/console/reports-api.js';
import { buildConsoleApi } from '../../../cloud/console/server.js';
import { hashSecret, parseCredential } from '../../../shared/credentials/index.js';
import { formatReport } from '../../../cloud/report/format.js';
import { REPORTS, runReport } from '../../../cloud/report/run.js';
import { exampleTelemetry } from '../../../shared/schema/index.js';
import type { VehicleRef } from '../../../shared/vehicles/index.js';
import { archiveFromMessages } from '../../support/archive.js';

/** The console's reports API: behind the login, the same rows as `roadlog report` (the same code, run on the same archive), CSV as a download. */
let dir: string;
let archive: string;
const T0 = Date.parse('2026-03-01T22:00:00Z');
const vehicles = new Map<string, VehicleRef>([['A', { vehicleId: 'A', class: 'car', depot: 'north', overrides: {} }], ['B', { vehicleId: 'B', class: 'van', depot: 'south', overrides: {} }]]);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'roadlog-console-reports-'));
  archive = join(dir, 'archive');
  const lines: string[] = [];
  for (const [v, k] of [['A', 1], ['B', 2]] as const) {
    for (let i = 0; i < 4 * 3600; i++) lines.push(JSON.stringify(exampleTelemetry({ vehicleId: v, seq: i, ts: T0 + i * 1000, speedKph: i % 600 < 100 ? 0 : 40 * k, engineRpm: 900, longAccelMps2: i % 997 === 0 ? -5 : 0, odometerKm: 1000 + (i * k) / 90, fuelUsedL: 50 + (i * k) / 9000, dtcs: [] })));
  }
  await writeFile(join(dir, 'm.jsonl'), `${lines.join('\n')}\n`);
  await archiveFromMessages(join(dir, 'm.jsonl'), archive, { topic: 't.telemetry.v1' });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function consoleApi() {
  const users = new Map([['vic', { name: 'vic', role: 'viewer' as const, credential: parseCredential(await hashSecret('viewer-secret'))! }]]);
  const built = await buildConsoleApi({ users, registry: new Registry(), secure: false });
  registerReportsApi(built.app, { archive, vehicles: async () => vehicles, kafka: async () => undefined });
  await built.app.ready();
  const r = await built.app.inject({ method: 'POST', url: '/api/login', payload: { user: 'vic', password: 'viewer-secret' } });
  return { app: built.app, cookie: String(r.headers['set-cookie']).split(';')[0]! };
}

describe('console reports API', () => {
  it('every report, every grouping: the rows `roadlog report` computes; CSV as a download; 401 without a session; 400 for a bad range or name', async () => {
    const { app, cookie } = await consoleApi();
    for (const def of REPORTS) {
      for (const groupBy of ['vehicle', 'day'] as const) {
        const r = await app.inject({ method: 'GET', url: `/api/reports/${def.name}?groupBy=${groupBy}&from=2026-03-01T22:30:00Z`, headers: { cookie } });
        expect(r.statusCode, `${def.name} ${r.body}`).toBe(200);
        const body = r.json() as { rows: unknown[]; columns: string[]; report: string };
        const cli = await runReport(def, { archive, query: { from: Date.parse('2026-03-01T22:30:00Z'), to: Number.MAX_SAFE_INTEGER }, groupBy, vehicles, kafka: async () => undefined });
        expect([body.report, body.columns, body.rows]).toEqual([def.name, cli.columns, JSON.parse(JSON.stringify(cli.rows))]);
        expect(body.rows).toHaveLength(2); // two vehicles; two device-time days
      }
    }
    const csv = await app.inject({ method: 'GET', url: '/api/reports/fleet?format=csv&groupBy=class', headers: { cookie } });
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.headers['content-disposition']).toBe('attachment; filename="roadlog-fleet-by-class.csv"');
    const fleet = await runReport(REPORTS[0]!, { archive, query: { from: 0, to: Number.MAX_SAFE_INTEGER }, groupBy: 'class', vehicles, kafka: async () => undefined });
    expect(csv.body).toBe(formatReport(fleet, 'csv'));
    expect((await app.inject({ method: 'GET', url: '/api/reports/fleet' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/api/reports/fleet?from=yesterday', headers: { cookie } })).json()).toMatchObject({ error: { code: 'ROADLOG_ERR_USAGE' } });
    expect((await app.inject({ method: 'GET', url: '/api/reports/fleet?from=2026-03-02&to=2026-03-01', headers: { cookie } })).statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/api/reports/nope', headers: { cookie } })).statusCode).toBe(400);
  });
});
