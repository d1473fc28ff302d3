import type { DuckDBConnection } from '@duckdb/node-api';
import type { Kafka } from 'kafkajs';
import type { TopicRole } from '../../shared/topics/topics.js';
import { MAX_TS_MS } from '../../shared/schema/index.js';
import type { VehicleRef } from '../../shared/vehicles/index.js';

/**
 * What every report is made of. A report's SQL yields base rows, one per vehicle and device-time
 * day, of measures that combine (`sum`, `min`, `max`, `set`); `groupRows` folds them into one
 * row per vehicle, class, depot or day and then computes the ratios (`derived`) from the sums,
 * so a class's L/100 km is the class's fuel over its distance, not an average of averages.
 * Lists that do not fold into a row (idle spans, excluded spans, harsh braking events, dead
 * letters by reason) are `details`.
 */
export type GroupBy = 'vehicle' | 'class' | 'depot' | 'day';

export interface ReportQuery {
  /** Device time, ms since epoch: from inclusive, to exclusive. */
  from: number;
  to: number;
  vehicle?: string;
}

export interface Measure {
  name: string;
  agg: 'sum' | 'min' | 'max' | 'set';
  /** Decimal places shown (numbers). */
  digits?: number;
  /** Only an input to a derived column (a sum an average is made from): not shown. */
  hidden?: boolean;
}

export interface Derived {
  name: string;
  digits: number;
  of(r: Readonly<Record<string, unknown>>): number | null;
}

export type BaseRow = { vehicleId: string; day: string } & Record<string, unknown>;

export interface Detail {
  name: string;
  title: string;
  columns: readonly string[];
  rows: Record<string, unknown>[];
}

export interface ChartSpec {
  title: string;
  /** A column of the grouped rows, drawn as a bar per row (a line when grouped by day). */
  field: string;
  /** Which end matters when there are more rows than bars: the largest values (default) or the smallest (a battery's lowest, completeness). */
  worst?: 'high' | 'low';
}

export interface ReportContext {
  conn: DuckDBConnection;
  /** The archive as a DuckDB relation (cloud/cold/scan.ts). */
  relation: string;
  archive: string;
  query: ReportQuery;
  /** Kafka, for the reports that read a topic too (health: alerts; quality: dead letters); undefined when it does not answer. */
  kafka(): Promise<{ kafka: Kafka; topic(name: TopicRole): string } | undefined>;
  /** Runs one SQL statement, showing its progress on a terminal. */
  sql(sql: string): Promise<Record<string, unknown>[]>;
}

export interface Collected {
  base: BaseRow[];
  details: Detail[];
  /** Said under the report: what it could not read, what a column means. */
  notes: string[];
}

export interface ReportDef {
  name: string;
  title: string;
  description: string;
  measures: readonly Measure[];
  derived: readonly Derived[];
  /** Output columns after the group's own (measures and derived, in the order shown). */
  columns: readonly string[];
  charts: readonly ChartSpec[];
  /** The names of the details lists it yields (`--details NAME`). */
  detailLists: readonly string[];
  collect(ctx: ReportContext): Promise<Collected>;
}

export interface Report {
  def: ReportDef;
  query: ReportQuery;
  groupBy: GroupBy;
  columns: string[];
  rows: Record<string, unknown>[];
  details: Detail[];
  notes: string[];
}

/** The base row of (vehicle, day), made (with no measures) when the SQL gave none: for what a report adds from elsewhere (spans, alerts, dead letters). */
export function baseRowOf(base: BaseRow[]): (vehicleId: string, day: string) => BaseRow {
  const index = new Map(base.map((r) => [`${r.vehicleId}\u0000${r.day}`, r]));
  return (vehicleId, day) => {
    const key = `${vehicleId}\u0000${day}`;
    let row = index.get(key);
    if (row === undefined) {
      row = { vehicleId, day };
      index.set(key, row);
      base.push(row);
    }
    return row;
  };
}

/** Folds base rows into one row per `by` (sorted by it), with the derived ratios and rounding. */
export function groupRows(def: ReportDef, base: readonly BaseRow[], by: GroupBy, vehicles: ReadonlyMap<string, VehicleRef>): { columns: string[]; rows: Record<string, unknown>[] } {
  const keyOf = (r: BaseRow): string => {
    if (by === 'vehicle') return r.vehicleId;
    if (by === 'day') return r.day;
    const ref = vehicles.get(r.vehicleId);
    const v = by === 'class' ? ref?.class : ref?.depot;
    return v === undefined || v === '' ? '-' : v;
  };
  const groups = new Map<string, { ids: Set<string>; acc: Record<string, unknown> }>();
  for (const r of base) {
    const k = keyOf(r);
    let g = groups.get(k);
    if (g === undefined) groups.set(k, (g = { ids: new Set(), acc: {} }));
    g.ids.add(r.vehicleId);
    for (const m of def.measures) g.acc[m.name] = combine(m.agg, g.acc[m.name], r[m.name]);
  }
  const rows = [...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, g]) => {
    const head: Record<string, unknown> = by === 'vehicle' ? { vehicleId: k, class: vehicles.get(k)?.class ?? null, depot: emptyToNull(vehicles.get(k)?.depot) } : { [by]: k, vehicles: g.ids.size };
    const row: Record<string, unknown> = { ...head };
    for (const m of def.measures) {
      if (m.hidden === true) continue;
      const v = g.acc[m.name];
      row[m.name] = m.agg === 'set' ? [...((v as Set<string> | undefined) ?? [])].sort().join(' ') : typeof v === 'number' ? round(v, m.digits ?? 3) : null;
    }
    for (const d of def.derived) row[d.name] = nullableRound(d.of(rawOf(def, g.acc)), d.digits);
    return row;
  });
  const columns = by === 'vehicle' ? ['vehicleId', 'class', 'depot', ...def.columns] : [by, 'vehicles', ...def.columns];
  return { columns, rows };
}

/** The unrounded sums, for the ratios (a ratio of rounded sums would drift in the last digit). */
function rawOf(def: ReportDef, acc: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const m of def.measures) out[m.name] = m.agg === 'set' ? acc[m.name] : (acc[m.name] ?? null);
  return out;
}

function combine(agg: Measure['agg'], a: unknown, b: unknown): unknown {
  if (agg === 'set') {
    const s = (a as Set<string> | undefined) ?? new Set<string>();
    if (typeof b === 'string') for (const x of b.split(' ')) if (x !== '') s.add(x);
    return s;
  }
  if (b === null || b === undefined) return a;
  const n = Number(b);
  if (a === undefined || a === null) return n;
  const x = a as number;
  return agg === 'sum' ? x + n : agg === 'min' ? Math.min(x, n) : Math.max(x, n);
}

function emptyToNull(s: string | undefined): string | null {
  return s === undefined || s === '' ? null : s;
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function nullableRound(x: number | null, digits: number): number | null {
  return x === null || !Number.isFinite(x) ? null : round(x, digits);
}

/** `num / den × scale`, or null when `den` is below `min` (L/100 km of a vehicle that barely moved means nothing). */
export function ratio(num: unknown, den: unknown, scale: number, min: number): number | null {
  const n = Number(num);
  const d = Number(den);
  return num === null || den === null || !Number.isFinite(n) || !Number.isFinite(d) || d < min ? null : (n / d) * scale;
}

/** The WHERE clause every report starts from. */
export function whereSql(q: ReportQuery): string {
  const vehicle = q.vehicle === undefined ? '' : ` AND vehicleId = ${sqlString(q.vehicle)}`;
  return `ts >= ${q.from} AND ts < ${q.to}${vehicle}`;
}

export function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/**
 * A time given by a person: ten digits or more are ms since the epoch; anything else is ISO
 * 8601 (`2026` is a year, `2026-01-05`, `2026-01-05T06:00Z`). Undefined when it is neither, or
 * outside the telemetry's range.
 */
export function parseTime(v: string): number | undefined {
  const n = /^\d{10,}$/.test(v) ? Number(v) : Date.parse(v);
  return Number.isFinite(n) && n >= 0 && n <= MAX_TS_MS ? n : undefined;
}

/** A device-time day, as the archive's `date=` folders name it. */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}
