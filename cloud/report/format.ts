import { RoadlogError } from '../../shared/errors/index.js';
import type { Report } from './model.js';

/**
 * Report rows as text: `json` (one JSON array, for machines), `csv` (a header line, RFC 4180
 * quoting), `table` (aligned columns for a terminal; numbers right-aligned, null as `-`).
 * `html` is html.ts.
 */
export type Format = 'table' | 'csv' | 'json' | 'html';

export function formatRows(rows: readonly Record<string, unknown>[], columns: readonly string[], format: Exclude<Format, 'html'>): string {
  if (format === 'json') return `${JSON.stringify(rows, null, 2)}\n`;
  if (format === 'csv') return [columns.join(','), ...rows.map((r) => columns.map((c) => csvCell(r[c])).join(','))].join('\n') + '\n';
  const cells = rows.map((r) => columns.map((c) => tableCell(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const numeric = columns.map((c) => rows.some((r) => typeof r[c] === 'number'));
  const line = (values: readonly string[]) => values.map((v, i) => (numeric[i] ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n') + '\n';
}

/** Rows shown under the main table on a terminal, per details list (the rest: `--details NAME`). */
export const TABLE_DETAIL_ROWS = 20;

/**
 * A report as text. `details` names one of its lists to print instead of the rows (all of
 * them, in any format). A table shows the rows, then the first rows of each list, then the notes.
 */
export function formatReport(report: Report, format: Exclude<Format, 'html'>, details?: string): string {
  if (details !== undefined) {
    const d = report.details.find((x) => x.name === details);
    if (d === undefined) throw new RoadlogError('ROADLOG_ERR_USAGE', `--details ${details}: report ${report.def.name} has ${report.details.map((x) => x.name).join(', ') || 'no lists'}`);
    return formatRows(d.rows, d.columns, format);
  }
  if (format !== 'table') return formatRows(report.rows, report.columns, format);
  const parts = [formatRows(report.rows, report.columns, 'table')];
  for (const d of report.details) {
    const shown = d.rows.slice(0, TABLE_DETAIL_ROWS);
    const more = d.rows.length - shown.length;
    parts.push(`\n${d.title}: ${d.rows.length === 0 ? 'none' : d.rows.length.toLocaleString('en-US')}\n${d.rows.length === 0 ? '' : formatRows(shown, d.columns, 'table')}${more > 0 ? `… ${more.toLocaleString('en-US')} more: --details ${d.name}\n` : ''}`);
  }
  if (report.notes.length > 0) parts.push(`\n${report.notes.join('\n')}\n`);
  return parts.join('');
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function tableCell(v: unknown): string {
  if (v === null || v === undefined || v === '') return '-';
  if (typeof v === 'number') return Number.isInteger(v) ? v.toLocaleString('en-US') : v.toLocaleString('en-US', { maximumFractionDigits: 2 });
  return String(v);
}
