import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI } from '../../support/cli.js';
import { formatTable, runCampaign, VICTIMS } from '../../e2e/campaign.js';

/**
 * The end-to-end truth campaign's short version (test/e2e/campaign.ts; `npm run test:e2e` is
 * the full one): a small fleet through the whole pipeline as `roadlog demo` runs it, gw-1's
 * uplink cut, kill -9 of each component once at a random moment; every check must pass.
 */
const VEHICLES = Number(process.env.ROADLOG_E2E_VEHICLES ?? 20);
const MINUTES = Number(process.env.ROADLOG_E2E_MINUTES ?? 10);
const SPEEDUP = Number(process.env.ROADLOG_E2E_SPEEDUP ?? 10);
let dir: string | undefined;
let failed = true;

afterAll(async () => {
  if (dir !== undefined && !failed) await rm(dir, { recursive: true, force: true });
});

describe('end-to-end truth campaign (short)', () => {
  it(`${VEHICLES} vehicles, ${MINUTES} min of device time at ${SPEEDUP}×, an uplink outage, kill -9 of ${VICTIMS.join(', ')}: every check passes`, async () => {
    dir = await mkdtemp(join(tmpdir(), 'roadlog-e2e-'));
    const lines: string[] = [];
    const { checks, timeline } = await runCampaign({ dir, cli: CLI, vehicles: VEHICLES, deviceMinutes: MINUTES, speedup: SPEEDUP, outageDeviceMinutes: 3, kills: VICTIMS, say: (l) => lines.push(l) });
    const table = formatTable(checks);
    console.log(`e2e (short):\n${table}${timeline.join('\n')}`);
    failed = checks.some((c) => !c.ok);
    expect(failed, `${table}\n${lines.join('\n')}\n(run folder kept: ${dir})`).toBe(false);
    expect(checks).toHaveLength(9);
  }, 900_000);
});
