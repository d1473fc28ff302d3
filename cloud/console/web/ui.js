// Shared by the console's pages: the API, tables, formats. Plain JavaScript modules served by
// the console itself (no CDN, no build step).
export const $ = (id) => document.getElementById(id);

export const session = { csrf: '', role: '', user: '' };

/** Calls the API; a failure throws an Error with the HTTP status and the roadlog error code. */
export async function api(path, options = {}) {
  const headers = { ...(options.body === undefined ? {} : { 'content-type': 'application/json' }), ...(session.csrf === '' ? {} : { 'x-csrf-token': session.csrf }) };
  const r = await fetch(path, { ...options, headers, credentials: 'same-origin' });
  const body = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) throw Object.assign(new Error(body?.error?.message ?? `HTTP ${r.status}`), { status: r.status, code: body?.error?.code });
  return body;
}

export function el(tag, props = {}, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children.filter((c) => c !== undefined && c !== null));
  return e;
}

export function num(v, digits = 2) {
  return Number.isInteger(v) ? v.toLocaleString('en-US') : v.toLocaleString('en-US', { maximumFractionDigits: digits });
}

export function cell(v) {
  if (v instanceof Node) return el('td', {}, v);
  if (typeof v === 'number') return el('td', { className: 'n', textContent: num(v) });
  return el('td', { textContent: v === null || v === undefined || v === '' ? '-' : String(v) });
}

/** A table with a caption and column headers; each row is an array of cells (text, numbers or nodes). */
export function table(caption, columns, rows, rowProps = () => ({})) {
  const t = el('table', {}, el('caption', { textContent: caption }));
  const head = t.createTHead().insertRow();
  for (const name of columns) head.append(el('th', { scope: 'col', textContent: name }));
  const body = t.createTBody();
  rows.forEach((r, i) => {
    const tr = body.insertRow();
    Object.assign(tr.dataset, rowProps(i).dataset ?? {});
    for (const v of r) tr.append(cell(v));
  });
  return t;
}

/** Rows of objects as a table of the given columns. */
export function objectTable(caption, columns, rows) {
  return table(caption, columns, rows.map((r) => columns.map((c) => r[c])));
}

export const iso = (ms) => (ms === null || ms === undefined ? '-' : new Date(ms).toISOString().replace('.000Z', 'Z').replace('T', ' '));

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return '-';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export const link = (href, text, label) => el('a', { href, textContent: text, ...(label === undefined ? {} : { ariaLabel: label }) });

/** A record as `roadlog tail` shows it: where it is, its value on one line; opened, its headers and the value as indented JSON. */
export function recordView(r) {
  let value = r.value;
  let oneLine = value;
  if (value === null) value = oneLine = r.valueBase64 !== undefined ? `(binary, base64) ${r.valueBase64}` : '(null value)';
  else {
    try {
      const parsed = JSON.parse(value);
      value = JSON.stringify(parsed, null, 2);
      oneLine = JSON.stringify(parsed);
    } catch {
      /* not JSON: as it is */
    }
  }
  const headers = Object.entries(r.headers).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : v}`);
  return el(
    'article',
    { className: 'record' },
    el('h3', { textContent: `${r.topic} [${r.partition}] @${r.offset} · ${iso(Number(r.timestamp))} · key ${r.key ?? '(none)'}` }),
    el(
      'details',
      {},
      el('summary', { textContent: oneLine.length > 160 ? `${oneLine.slice(0, 160)}…` : oneLine }),
      headers.length === 0 ? null : el('pre', { className: 'headers', textContent: headers.join('\n') }),
      el('pre', { textContent: value }),
    ),
  );
}

/** Says what went wrong where the page expected data. */
export function failure(target, what, err) {
  target.replaceChildren(el('p', { className: 'error', role: 'alert', textContent: `${what}: ${err.message}${err.code ? ` (${err.code})` : ''}` }));
}
