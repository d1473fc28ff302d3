import { z } from 'zod';
import { RoadlogError } from '../errors/index.js';
import { VEHICLE_ID_PATTERN } from '../schema/index.js';

/**
 * The vehicles reference table: what the compacted `roadlog.vehicles.v1` topic holds (key =
 * vehicleId, value = this JSON; a null value deletes the vehicle). The hot path joins it with
 * the telemetry stream: a vehicle's class picks the rules' `byClass` limits, and its own
 * overrides (`{rule id}.{value|clearValue|threshold}`) come last.
 *
 * CSV form (`roadlog vehicles import FILE`, `roadlog sim --vehicles-csv FILE`): a header line
 * `vehicleId,class,depot[,rule.field ...]`, then one line per vehicle; empty cells are unset.
 */
export const OVERRIDE_KEY = /^[a-z0-9][a-z0-9_-]{0,63}\.(value|clearValue|threshold)$/;

export const VehicleRefSchema = z
  .object({
    vehicleId: z.string().regex(VEHICLE_ID_PATTERN),
    class: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'expected a lower-case class name like car, van or truck'),
    depot: z.string().max(64).default(''),
    overrides: z.record(z.string().regex(OVERRIDE_KEY, 'expected {rule id}.value, .clearValue or .threshold'), z.number()).default({}),
  })
  .strict();

export type VehicleRef = z.output<typeof VehicleRefSchema>;

export const CSV_COLUMNS = ['vehicleId', 'class', 'depot'] as const;

/** Parses the CSV form; errors name the line and the column (ROADLOG_ERR_VEHICLES_INVALID). */
export function parseVehiclesCsv(text: string, source = 'vehicles CSV'): VehicleRef[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  const header = (lines[0] ?? '').split(',').map((h) => h.trim());
  const fail = (msg: string): never => {
    throw new RoadlogError('ROADLOG_ERR_VEHICLES_INVALID', `${source}: ${msg}`);
  };
  if (header[0] !== 'vehicleId' || header[1] !== 'class') fail(`line 1: expected a header starting vehicleId,class[,depot,...], got ${JSON.stringify(lines[0] ?? '')}`);
  for (const h of header.slice(3)) if (!OVERRIDE_KEY.test(h)) fail(`line 1: column ${JSON.stringify(h)}: expected {rule id}.value, .clearValue or .threshold`);
  const out: VehicleRef[] = [];
  const seen = new Set<string>();
  lines.slice(1).forEach((line, i) => {
    if (line === '' || line.startsWith('#')) return;
    const cells = line.split(',').map((c) => c.trim());
    if (cells.length > header.length) fail(`line ${i + 2}: ${cells.length} cells, the header has ${header.length}`);
    const overrides: Record<string, number> = {};
    header.slice(3).forEach((h, j) => {
      const cell = cells[j + 3] ?? '';
      if (cell === '') return;
      const n = Number(cell);
      if (!Number.isFinite(n)) fail(`line ${i + 2}, column ${h}: expected a number, got ${JSON.stringify(cell)}`);
      overrides[h] = n;
    });
    const r = VehicleRefSchema.safeParse({ vehicleId: cells[0], class: cells[1], depot: cells[2] ?? '', overrides });
    if (!r.success) fail(`line ${i + 2}, column ${String(r.error.issues[0]!.path[0])}: ${r.error.issues[0]!.message}`);
    if (seen.has(r.data!.vehicleId)) fail(`line ${i + 2}: vehicle ${r.data!.vehicleId} listed twice`);
    seen.add(r.data!.vehicleId);
    out.push(r.data!);
  });
  return out;
}

export function formatVehiclesCsv(vehicles: readonly Pick<VehicleRef, 'vehicleId' | 'class' | 'depot'>[]): string {
  return [CSV_COLUMNS.join(','), ...vehicles.map((v) => `${v.vehicleId},${v.class},${v.depot}`)].join('\n') + '\n';
}
