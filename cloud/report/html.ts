import { tableCell } from './format.js';
import { iso, type ChartSpec, type Report } from './model.js';

/**
 * A report as one self-contained HTML file: the charts drawn by ECharts on the server as inline
 * SVG (no script in the page, nothing fetched: it opens offline, and mails as one file), the
 * rows, every details list, the notes. ECharts is a cloud-only optional dependency, loaded only
 * for `--format html`.
 */
export const MAX_CHART_BARS = 60;
const MAX_HTML_DETAIL_ROWS = 5_000;

/** The report's charts, each an `<svg>` string (the console's page shows them as they are). */
export async function chartSvgs(report: Report): Promise<string[]> {
  const echarts = await loadECharts();
  return report.def.charts.map((c) => chartSvg(echarts, report, report.columns[0]!, c));
}

export async function renderHtml(report: Report, generatedAt = Date.now()): Promise<string> {
  const charts = (await chartSvgs(report)).map((svg, i) => `<figure class="chart" aria-label="${esc(report.def.charts[i]!.title)}">${svg}</figure>`);
  const range = `${report.query.from <= 0 ? 'the beginning' : iso(report.query.from)} to ${report.query.to >= Number.MAX_SAFE_INTEGER ? 'the end' : iso(report.query.to)}`;
  const details = report.details.map((d) => {
    const shown = d.rows.slice(0, MAX_HTML_DETAIL_ROWS);
    return `<section><h2>${esc(d.title)} <small>(${d.rows.length.toLocaleString('en-US')})</small></h2>${d.rows.length === 0 ? '<p>None.</p>' : table(d.columns, shown)}${d.rows.length > shown.length ? `<p>${(d.rows.length - shown.length).toLocaleString('en-US')} more: <code>roadlog report ${esc(report.def.name)} --details ${esc(d.name)} --format csv</code></p>` : ''}</section>`;
  });
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="roadlog report ${esc(report.def.name)}">
<title>roadlog: ${esc(report.def.title)} report</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#1d2733;background:#fff}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.15rem;margin:2rem 0 .5rem}small{color:#5b6875;font-weight:normal}
.meta{color:#5b6875;margin:0 0 1.5rem}
.charts{display:flex;flex-wrap:wrap;gap:1rem}.chart{border:1px solid #d8dee4;border-radius:6px;padding:.5rem;margin:0}
table{border-collapse:collapse;margin:.5rem 0;font-variant-numeric:tabular-nums}th,td{padding:.2rem .6rem;border-bottom:1px solid #e5e9ed;text-align:left;white-space:nowrap}
td.n{text-align:right}th{background:#f3f5f7;position:sticky;top:0}
.notes{color:#5b6875}
</style>
</head>
<body>
<header><h1>${esc(report.def.title)}</h1>
<p class="meta">Device time ${esc(range)}${report.query.vehicle === undefined ? '' : `, vehicle ${esc(report.query.vehicle)}`}; one row per ${esc(report.groupBy)}; ${report.rows.length.toLocaleString('en-US')} rows. Generated ${esc(iso(generatedAt))} by <code>roadlog report ${esc(report.def.name)}</code>.</p></header>
<main>
<section class="charts">${charts.join('\n')}</section>
<section><h2>${esc(report.def.title)} by ${esc(report.groupBy)}</h2>${report.rows.length === 0 ? '<p>No data in this range.</p>' : table(report.columns, report.rows)}</section>
${details.join('\n')}
${report.notes.length === 0 ? '' : `<section class="notes">${report.notes.map((n) => `<p>${esc(n)}</p>`).join('')}</section>`}
</main>
</body>
</html>
`;
}

type ECharts = typeof import('echarts');

export async function loadECharts(): Promise<ECharts> {
  try {
    return await import('echarts');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      const { RoadlogError } = await import('../../shared/errors/index.js');
      throw new RoadlogError('ROADLOG_ERR_CLOUD_PACKAGE_MISSING', 'ECharts (echarts) is not installed: this looks like a gateway install, which leaves the cloud\'s packages out; write HTML reports from a full install of roadlog (or use --format table|csv|json)', { cause: err });
    }
    throw err;
  }
}

/** One chart as SVG: a line over days, or horizontal bars per vehicle, class or depot (the MAX_CHART_BARS that matter most: see ChartSpec.worst). */
function chartSvg(echarts: ECharts, report: Report, key: string, spec: ChartSpec): string {
  const points = report.rows.filter((r) => typeof r[spec.field] === 'number').map((r) => ({ name: String(r[key]), value: r[spec.field] as number }));
  if (points.length === 0) return `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="40" role="img" aria-label="${esc(spec.title)}: no values"><text x="8" y="24" font-size="13">${esc(spec.title)}: no values</text></svg>`;
  const byDay = report.groupBy === 'day';
  const sign = spec.worst === 'low' ? -1 : 1;
  const shown = byDay ? points : [...points].sort((a, b) => sign * (b.value - a.value)).slice(0, MAX_CHART_BARS).reverse();
  const width = byDay ? Math.max(480, Math.min(1200, 40 * shown.length + 120)) : 520;
  const height = byDay ? 300 : Math.max(200, 16 * shown.length + 70);
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  const category = { type: 'category' as const, data: shown.map((p) => p.name), axisLabel: { fontSize: 10 } };
  const value = { type: 'value' as const };
  chart.setOption({
    animation: false,
    title: { text: spec.title + (!byDay && points.length > shown.length ? ` (${spec.worst === 'low' ? 'lowest' : 'highest'} ${shown.length} of ${points.length})` : ''), textStyle: { fontSize: 13 } },
    grid: { left: 10, right: 20, top: 40, bottom: 10, containLabel: true },
    xAxis: byDay ? category : value,
    yAxis: byDay ? value : category,
    series: [{ type: byDay ? 'line' : 'bar', data: shown.map((p) => p.value), itemStyle: { color: '#2f6db5' } }],
  });
  const svg = chart.renderToSVGString();
  chart.dispose();
  return svg;
}

function table(columns: readonly string[], rows: readonly Record<string, unknown>[]): string {
  const head = `<tr>${columns.map((c) => `<th scope="col">${esc(c)}</th>`).join('')}</tr>`;
  const body = rows.map((r) => `<tr>${columns.map((c) => (typeof r[c] === 'number' ? `<td class="n">${esc(tableCell(r[c]))}</td>` : `<td>${esc(tableCell(r[c]))}</td>`)).join('')}</tr>`).join('\n');
  return `<table><thead>${head}</thead><tbody>\n${body}\n</tbody></table>`;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
