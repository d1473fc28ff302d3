// roadlog console: plain JavaScript, served by the console itself (no CDN, no build step).
'use strict';
const $ = (id) => document.getElementById(id);
let csrf = '';

async function api(path, options = {}) {
  const headers = { ...(options.body === undefined ? {} : { 'content-type': 'application/json' }), ...(csrf === '' ? {} : { 'x-csrf-token': csrf }) };
  const r = await fetch(path, { ...options, headers, credentials: 'same-origin' });
  const body = r.status === 204 ? null : await r.json();
  if (!r.ok) throw Object.assign(new Error(body?.error?.message ?? `HTTP ${r.status}`), { status: r.status });
  return body;
}

function show(view) {
  for (const id of ['login', 'reports']) $(id).hidden = id !== view;
  $('nav').hidden = view === 'login';
  $('logout').hidden = view === 'login';
  if (view === 'login') $('user').focus();
}

function signedIn(me) {
  csrf = me.csrfToken;
  $('who').textContent = `${me.user} (${me.role})`;
  show('reports');
}

const cell = (v) => {
  const td = document.createElement('td');
  if (typeof v === 'number') {
    td.className = 'n';
    td.textContent = Number.isInteger(v) ? v.toLocaleString('en-US') : v.toLocaleString('en-US', { maximumFractionDigits: 2 });
  } else td.textContent = v === null || v === undefined || v === '' ? '-' : String(v);
  return td;
};

function table(caption, columns, rows) {
  const t = document.createElement('table');
  const c = document.createElement('caption');
  c.textContent = caption;
  t.append(c);
  const head = t.createTHead().insertRow();
  for (const name of columns) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = name;
    head.append(th);
  }
  const body = t.createTBody();
  for (const r of rows) {
    const tr = body.insertRow();
    for (const name of columns) tr.append(cell(r[name]));
  }
  return t;
}

async function runReport(event) {
  event?.preventDefault();
  const q = new URLSearchParams({ groupBy: $('group-by').value });
  if ($('from').value !== '') q.set('from', $('from').value);
  if ($('to').value !== '') q.set('to', $('to').value);
  const name = $('report').value;
  $('report-status').textContent = `Running the ${name} report…`;
  try {
    const r = await api(`/api/reports/${name}?${q}&charts=svg`);
    $('charts').replaceChildren(...r.chartsSvg.map((svg) => Object.assign(document.createElement('figure'), { innerHTML: svg })));
    $('table').replaceChildren(table(`${r.title} by ${r.groupBy}`, r.columns, r.rows));
    $('details').replaceChildren(...r.details.map((d) => table(`${d.title} (${d.rows.length})`, d.columns, d.rows.slice(0, 200))));
    $('notes').replaceChildren(...r.notes.map((n) => Object.assign(document.createElement('p'), { textContent: n })));
    $('csv').href = `/api/reports/${name}?${q}&format=csv`;
    $('json').href = `/api/reports/${name}?${q}`;
    $('downloads').hidden = false;
    $('report-status').textContent = `${r.title}: ${r.rows.length} rows.`;
  } catch (err) {
    if (err.status === 401) return show('login');
    $('report-status').textContent = `The report failed: ${err.message}`;
  }
}

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('login-error').textContent = '';
  try {
    signedIn(await api('/api/login', { method: 'POST', body: JSON.stringify({ user: $('user').value, password: $('password').value }) }));
    $('password').value = '';
    await runReport();
  } catch (err) {
    $('login-error').textContent = err.status === 401 ? 'Wrong user or password.' : `Login failed: ${err.message}`;
  }
});

$('report-form').addEventListener('submit', runReport);

$('logout').addEventListener('click', async () => {
  await api('/api/logout', { method: 'POST' }).catch(() => undefined);
  csrf = '';
  $('who').textContent = '';
  show('login');
});

api('/api/me').then(async (me) => {
  signedIn(me);
  await runReport();
}, () => show('login'));
