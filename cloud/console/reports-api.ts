import type { FastifyInstance } from 'fastify';
import type { VehicleRef } from '../../shared/vehicles/index.js';
import { formatReport } from '../report/format.js';
import { parseTime, type GroupBy, type ReportContext } from '../report/model.js';
import { REPORTS, runReport } from '../report/run.js';

/**
 * `GET /api/reports/:name?from=&to=&vehicle=&groupBy=&format=json|csv`: the cold path's reports
 * for the console, the very code `roadlog report` runs (cloud/report/run.ts), so the page's
 * numbers are the CLI's. JSON is `{ report, groupBy, columns, rows, details, notes }`; CSV is
 * the rows as `roadlog report NAME --format csv` prints them, as a download. One report runs at
 * a time per console (DuckDB takes both cores of a small machine); the next waits. With
 * `charts=svg` the JSON also holds each chart as an SVG string, drawn on the server by the
 * html report's code (`chartsSvg`).
 */
export interface ReportsApiOptions {
  archive: string;
  vehicles(): Promise<ReadonlyMap<string, VehicleRef>>;
  kafka: ReportContext['kafka'];
}

const GROUPS = ['vehicle', 'class', 'depot', 'day'] as const;

export function registerReportsApi(app: FastifyInstance, o: ReportsApiOptions): void {
  let queue: Promise<unknown> = Promise.resolve();
  app.get<{ Params: { name: string }; Querystring: { from?: string; to?: string; vehicle?: string; groupBy?: GroupBy; format?: 'json' | 'csv'; charts?: 'svg' } }>('/api/reports/:name', {
    schema: {
      params: { type: 'object', properties: { name: { type: 'string', enum: REPORTS.map((r) => r.name) } }, required: ['name'] },
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          from: { type: 'string', maxLength: 40 },
          to: { type: 'string', maxLength: 40 },
          vehicle: { type: 'string', maxLength: 64 },
          groupBy: { type: 'string', enum: [...GROUPS] },
          format: { type: 'string', enum: ['json', 'csv'] },
          charts: { type: 'string', enum: ['svg'] },
        },
      },
    },
  }, async (req, reply) => {
    const def = REPORTS.find((r) => r.name === req.params.name)!;
    const from = timeParam(req.query.from, 0);
    const to = timeParam(req.query.to, Number.MAX_SAFE_INTEGER);
    if (from === undefined || to === undefined || from >= to) return reply.code(400).send({ error: { code: 'ROADLOG_ERR_USAGE', message: 'from and to: ISO 8601 times or ms since epoch, from before to' } });
    const query = { from, to, ...(req.query.vehicle === undefined ? {} : { vehicle: req.query.vehicle }) };
    const groupBy = req.query.groupBy ?? 'vehicle';
    const run = queue.then(async () => runReport(def, { archive: o.archive, query, groupBy, vehicles: await o.vehicles(), kafka: o.kafka }));
    queue = run.catch(() => undefined);
    const report = await run;
    if (req.query.format === 'csv') {
      return reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="roadlog-${def.name}-by-${groupBy}.csv"`).send(formatReport(report, 'csv'));
    }
    const chartsSvg = req.query.charts === 'svg' ? await (await import('../report/html.js')).chartSvgs(report) : undefined;
    return { report: def.name, title: def.title, groupBy, query, columns: report.columns, rows: report.rows, details: report.details, notes: report.notes, charts: def.charts, ...(chartsSvg === undefined ? {} : { chartsSvg }) };
  });
}

function timeParam(v: string | undefined, dflt: number): number | undefined {
  return v === undefined || v === '' ? dflt : parseTime(v);
}
