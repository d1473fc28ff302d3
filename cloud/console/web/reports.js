// The reports page: the cold path's reports as `roadlog report` computes them, charts drawn on the server.
import { $, api, el, objectTable } from './ui.js';

let loaded = false;

export function reportsPage() {
  if (!loaded) void runReport();
}

async function runReport(event) {
  event?.preventDefault();
  loaded = true;
  const q = new URLSearchParams({ groupBy: $('group-by').value });
  if ($('from').value !== '') q.set('from', $('from').value);
  if ($('to').value !== '') q.set('to', $('to').value);
  const name = $('report').value;
  $('report-status').textContent = `Running the ${name} report…`;
  try {
    const r = await api(`/api/reports/${name}?${q}&charts=svg`);
    $('charts').replaceChildren(...r.chartsSvg.map((svg) => el('figure', { innerHTML: svg })));
    $('table').replaceChildren(objectTable(`${r.title} by ${r.groupBy}`, r.columns, r.rows));
    $('details').replaceChildren(...r.details.map((d) => objectTable(`${d.title} (${d.rows.length})`, d.columns, d.rows.slice(0, 200))));
    $('notes').replaceChildren(...r.notes.map((n) => el('p', { textContent: n })));
    $('csv').href = `/api/reports/${name}?${q}&format=csv`;
    $('json').href = `/api/reports/${name}?${q}`;
    $('downloads').hidden = false;
    $('report-status').textContent = `${r.title}: ${r.rows.length} rows.`;
  } catch (err) {
    if (err.status === 401) return window.dispatchEvent(new Event('roadlog:unauthenticated'));
    $('report-status').textContent = `The report failed: ${err.message}`;
  }
}

$('report-form').addEventListener('submit', runReport);
