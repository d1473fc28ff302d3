// The live pages: alerts (with ack and clear for operators) and gateways, from /api/stream.
import { $, api, bytes, duration, el, iso, link, num, session, table } from './ui.js';

const alerts = new Map();
/** When this page first showed each alert's current change (ms, this browser's clock): the tests read it. */
const shownAt = new Map();
let gateways = [];
let feedProblem = null;
let pending = false;

export function onAlerts(msg) {
  if (msg.snapshot) {
    alerts.clear();
    feedProblem = msg.problem;
  }
  const now = Date.now();
  for (const a of msg.alerts) {
    const before = alerts.get(a.alertId);
    alerts.set(a.alertId, a);
    if (before === undefined || before.change !== a.change || before.detectedAt !== a.detectedAt) shownAt.set(a.alertId, now);
  }
  render();
}

export function onGateways(msg) {
  gateways = msg.gateways;
  if (!$('gateways').hidden) renderGateways();
}

export function alertsPage() {
  render();
}

export function gatewaysPage() {
  renderGateways();
}

/** Re-draws at most once a frame, however many events arrive. */
function render() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    renderAlerts();
  });
}

function filtered() {
  const f = { state: $('f-state').value, severity: $('f-severity').value, category: $('f-category').value, vehicle: $('f-vehicle').value.trim(), gateway: $('f-gateway').value.trim() };
  return [...alerts.values()]
    .filter((a) => (f.state === 'all' || a.state !== 'cleared') && (f.severity === '' || a.severity === f.severity) && (f.category === '' || a.category === f.category))
    .filter((a) => (f.vehicle === '' || a.vehicleId.includes(f.vehicle)) && (f.gateway === '' || a.gatewayId.includes(f.gateway)))
    .sort((a, b) => b.openedAt - a.openedAt || (a.alertId < b.alertId ? -1 : 1));
}

function renderAlerts() {
  const categories = [...new Set([...alerts.values()].map((a) => a.category))].sort();
  const select = $('f-category');
  const chosen = select.value;
  if ([...select.options].slice(1).map((o) => o.value).join('\n') !== categories.join('\n')) select.replaceChildren(el('option', { value: '', textContent: 'any' }), ...categories.map((c) => el('option', { value: c, textContent: c })));
  select.value = chosen;
  const shown = filtered();
  const open = [...alerts.values()].filter((a) => a.state === 'open').length;
  const acked = [...alerts.values()].filter((a) => a.state === 'ack').length;
  $('alerts-status').textContent = feedProblem !== null && alerts.size === 0 ? `No alert feed yet: ${feedProblem}` : `${open} open, ${acked} acknowledged; ${shown.length} shown.`;
  const target = $('alerts-table');
  const focused = document.activeElement?.dataset?.action ? `${document.activeElement.dataset.action}:${document.activeElement.dataset.alertId}` : null;
  target.replaceChildren(alertTable('Alerts, newest first (device time)', shown));
  if (focused !== null) target.querySelector(`[data-key="${focused}"]`)?.focus();
}

/** Alerts as a table; operators get Ack and Clear buttons. Also the vehicle page's. */
export function alertTable(caption, list) {
  const operator = session.role === 'operator';
  const columns = ['Opened', 'Severity', 'Category', 'Vehicle', 'Gateway', 'Rule', 'Value', 'Threshold', 'Raised after', 'State', 'Message'];
  if (operator) columns.push('Actions');
  const rows = list.map((a) => {
    const state = el('span', { className: `state ${a.state}`, textContent: a.state === 'ack' ? `acknowledged by ${a.ack?.by ?? '?'}` : a.state === 'cleared' && a.operatorClear ? `cleared by ${a.operatorClear.by}` : a.state });
    const late = a.late ? el('span', { className: 'badge late', textContent: 'late', title: `backfilled: ${duration(a.lateByMs / 1000)} late` }) : null;
    const severity = el('span', { className: `sev ${a.severity}`, textContent: a.severity });
    const row = [
      iso(a.openedAt),
      severity,
      a.category,
      a.vehicleId === '' ? '-' : link(`#vehicle/${encodeURIComponent(a.vehicleId)}`, a.vehicleId, `vehicle ${a.vehicleId}`),
      a.gatewayId,
      a.subject === '' ? a.rule : `${a.rule}:${a.subject}`,
      a.value === null ? '-' : num(a.value),
      a.threshold === null ? '-' : num(a.threshold),
      el('span', {}, a.detectionDelayMs === null ? '-' : duration(a.detectionDelayMs / 1000), ...(late ? [' ', late] : [])),
      state,
      a.message,
    ];
    if (operator) {
      const actions = el('span', { className: 'actions' });
      if (a.state === 'open') actions.append(actionButton(a, 'ack', 'Ack'));
      if (a.state !== 'cleared') actions.append(actionButton(a, 'clear', 'Clear'));
      row.push(actions);
    }
    return row;
  });
  return table(caption, columns, rows, (i) => ({ dataset: { alertId: list[i].alertId, state: list[i].state, shownAt: String(shownAt.get(list[i].alertId) ?? '') } }));
}

function actionButton(a, action, text) {
  const who = a.vehicleId === '' ? `gateway ${a.gatewayId}` : a.vehicleId;
  const b = el('button', { type: 'button', textContent: text, ariaLabel: `${text} ${a.category} alert on ${who}` });
  Object.assign(b.dataset, { action, alertId: a.alertId, key: `${action}:${a.alertId}` });
  b.addEventListener('click', async () => {
    b.disabled = true;
    try {
      await api(`/api/alerts/${a.alertId}/${action}`, { method: 'POST', body: JSON.stringify({}) });
      $('alerts-status').textContent = `${text} sent for the ${a.category} alert on ${who}; waiting for the hot path…`;
    } catch (err) {
      b.disabled = false;
      $('alerts-status').textContent = `${text} failed: ${err.message}`;
    }
  });
  return b;
}

for (const id of ['f-state', 'f-severity', 'f-category']) $(id).addEventListener('change', render);
for (const id of ['f-vehicle', 'f-gateway']) $(id).addEventListener('input', render);
$('alert-filters').addEventListener('submit', (e) => e.preventDefault());

function renderGateways() {
  const offline = gateways.filter((g) => g.offline).length;
  $('gateways-status').textContent = gateways.length === 0 ? 'No gateway has sent a heartbeat yet.' : `${gateways.length} gateways, ${offline} offline.`;
  const rows = gateways.map((g) => [
    g.gatewayId,
    el('span', { className: `state ${g.offline ? 'offline' : 'online'}`, textContent: g.offline ? 'offline' : g.connected ? 'online' : 'online, Kafka unreachable' }),
    `${duration(g.heartbeatAgeSeconds)} ago`,
    g.backlogRecords,
    bytes(g.backlogBytes),
    duration(g.oldestUnsentAgeSeconds),
    `${num(g.drainRate, 1)} records/s`,
    g.backlogRecords === 0 ? 'nothing waiting' : duration(g.etaSeconds),
    g.lastError === null ? '-' : `${g.lastError.code}: ${g.lastError.message}`,
  ]);
  $('gateways-table').replaceChildren(table('Gateways (backlog as of the last heartbeat)', ['Gateway', 'Status', 'Last heartbeat', 'Backlog records', 'Backlog bytes', 'Oldest unsent', 'Drain rate', 'ETA', 'Last error'], rows, (i) => ({ dataset: { gatewayId: gateways[i].gatewayId, offline: String(gateways[i].offline) } })));
}
