// A vehicle's page: its recent telemetry (InfluxDB), its gateway, its live alerts, its report figures.
import { $, api, el, failure, objectTable } from './ui.js';
import { alertTable } from './alerts.js';

let shown = '';

export function vehiclePage(id) {
  if (id === '' || id === shown) {
    if (id === '') $('vehicle-id').focus();
    return;
  }
  $('vehicle-id').value = id;
  void load(id);
}

async function load(id) {
  shown = id;
  const hours = $('vehicle-hours').value;
  $('vehicle-title').textContent = `Vehicle ${id}`;
  $('vehicle-status').textContent = `Loading ${id}…`;
  $('vehicle-charts').replaceChildren();
  $('vehicle-alerts').replaceChildren();
  $('vehicle-report').replaceChildren();
  try {
    const v = await api(`/api/vehicles/${encodeURIComponent(id)}?hours=${hours}`);
    const t = v.telemetry;
    $('vehicle-status').textContent = [
      `Gateway: ${v.gatewayId ?? 'unknown'}.`,
      t === null ? v.problem : `Telemetry ${t.from.replace('T', ' ')} to ${t.to.replace('T', ' ')} (device time, its newest ${hours} h): ${t.points.toLocaleString('en-US')} records, 30-second means.`,
    ].join(' ');
    $('vehicle-charts').replaceChildren(...(t?.chartsSvg ?? []).map((svg) => el('figure', { innerHTML: svg })));
    $('vehicle-alerts').replaceChildren(alertTable(`Alerts of ${id} (open, acknowledged, recently cleared)`, v.alerts));
  } catch (err) {
    if (err.status === 401) return window.dispatchEvent(new Event('roadlog:unauthenticated'));
    failure($('vehicle-alerts'), `Vehicle ${id}`, err);
    $('vehicle-status').textContent = '';
  }
  try {
    const r = await api(`/api/reports/fleet?vehicle=${encodeURIComponent(id)}`);
    $('vehicle-report').replaceChildren(objectTable(`Fleet report figures of ${id} (the whole archive)`, r.columns, r.rows));
  } catch (err) {
    failure($('vehicle-report'), 'Report figures', err);
  }
}

$('vehicle-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const id = $('vehicle-id').value.trim();
  shown = '';
  if (location.hash === `#vehicle/${encodeURIComponent(id)}`) void load(id);
  else location.hash = `#vehicle/${encodeURIComponent(id)}`;
});
