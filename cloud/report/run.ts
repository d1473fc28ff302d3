import type { DuckDBConnection } from '@duckdb/node-api';
import { progressBar } from '../../shared/cli/progress.js';
import type { VehicleRef } from '../../shared/vehicles/index.js';
import { withDuckDB } from '../cold/duckdb.js';
import { withArchive } from '../cold/scan.js';
import { fleetReport } from './fleet.js';
import { fuelReport } from './fuel.js';
import { harshReport } from './harsh.js';
import { healthReport } from './health.js';
import { idleReport } from './idle.js';
import { groupRows, type GroupBy, type Report, type ReportContext, type ReportDef, type ReportQuery } from './model.js';
import { qualityReport } from './quality.js';

export const REPORTS: readonly ReportDef[] = [fleetReport, fuelReport, idleReport, harshReport, healthReport, qualityReport];


export interface RunOptions {
  archive: string;
  query: ReportQuery;
  groupBy: GroupBy;
  vehicles: ReadonlyMap<string, VehicleRef>;
  kafka: ReportContext['kafka'];
  /** A progress bar on stderr while DuckDB works (drawn only on a terminal). */
  progress?: boolean;
}

/** Runs one report over the archive's committed files (a fresh in-memory DuckDB) and groups its rows. */
export async function runReport(def: ReportDef, o: RunOptions): Promise<Report> {
  return withDuckDB(async (conn) => {
    if (o.progress === true) await conn.run('SET enable_progress_bar = true; SET enable_progress_bar_print = false');
    let step = 0;
    const sql = (text: string) => query(conn, text, o.progress === true ? `report ${def.name}, query ${++step}` : undefined);
    const collected = await withArchive(o.archive, (relation) => def.collect({ conn, relation, archive: o.archive, query: o.query, kafka: o.kafka, sql }));
    const { columns, rows } = groupRows(def, collected.base, o.groupBy, o.vehicles);
    return { def, query: o.query, groupBy: o.groupBy, columns, rows, details: collected.details, notes: collected.notes };
  });
}

/** One statement; with a label, DuckDB's own progress as a bar on a terminal (a line per statement that takes long enough to show one). */
async function query(conn: DuckDBConnection, sql: string, label: string | undefined): Promise<Record<string, unknown>[]> {
  const bar = label === undefined ? undefined : progressBar(label, '');
  const timer = bar === undefined ? undefined : setInterval(() => {
    const p = conn.progress;
    if (p.percentage >= 0) bar.update(Math.round(p.percentage), 100);
  }, 250);
  try {
    return (await conn.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    if (timer !== undefined) clearInterval(timer);
    bar?.done();
  }
}
