// roadlog console: log in, pages by the URL's #hash, one server-sent event stream for the live pages.
import { $, api, session } from './ui.js';
import { alertsPage, gatewaysPage, onAlerts, onGateways } from './alerts.js';
import { reportsPage } from './reports.js';
import { vehiclePage } from './vehicle.js';
import { eventsPage, leaveEvents } from './events.js';
import { healthPage, leaveHealth } from './health.js';

const PAGES = { alerts: alertsPage, vehicle: vehiclePage, reports: reportsPage, events: eventsPage, gateways: gatewaysPage, health: healthPage };
let stream;
let current = '';

function show(view) {
  for (const id of ['login', ...Object.keys(PAGES)]) $(id).hidden = id !== view;
  $('nav').hidden = view === 'login';
  $('logout').hidden = view === 'login';
  for (const a of $('nav').querySelectorAll('a')) {
    if (a.getAttribute('href') === `#${view}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (view === 'login') $('user').focus();
}

/** The page the hash names (#alerts, #vehicle/V1, ...): shown, and told to load. */
function route() {
  if (session.csrf === '') return show('login');
  const [name, ...rest] = location.hash.replace(/^#/, '').split('/');
  const page = Object.hasOwn(PAGES, name) ? name : 'alerts';
  let arg = rest.join('/');
  try {
    arg = decodeURIComponent(arg);
  } catch {
    /* a malformed escape: as typed */
  }
  if (current === 'events' && page !== 'events') leaveEvents();
  if (current === 'health' && page !== 'health') leaveHealth();
  // Moving between pages puts the keyboard focus on the new page's title (a screen reader says it); the first page after loading leaves focus at the top.
  const moved = current !== '' && current !== page;
  current = page;
  show(page);
  if (moved) $(`${page}-title`).focus({ preventScroll: true });
  PAGES[page](arg);
}

let retry;

function openStream() {
  stream?.close();
  clearTimeout(retry);
  const mine = (stream = new EventSource('/api/stream'));
  stream.addEventListener('alerts', (e) => onAlerts(JSON.parse(e.data)));
  stream.addEventListener('gateways', (e) => onGateways(JSON.parse(e.data)));
  stream.addEventListener('open', () => ($('live').textContent = 'live'));
  stream.addEventListener('error', () => {
    $('live').textContent = 'reconnecting…';
    // A stream refused for want of a session does not come back: ask who we are. One the
    // browser gave up on (an answer other than 200: the console stopping, a proxy) is opened again.
    api('/api/me').then(
      () => {
        if (mine.readyState === EventSource.CLOSED && stream === mine) retry = setTimeout(openStream, 3_000);
      },
      (err) => {
        if (err.status === 401) signedOut();
        else if (stream === mine) retry = setTimeout(openStream, 3_000);
      },
    );
  });
}

function signedIn(me) {
  Object.assign(session, { csrf: me.csrfToken, role: me.role, user: me.user });
  $('who').textContent = `${me.user} (${me.role})`;
  openStream();
  route();
}

function signedOut() {
  stream?.close();
  stream = undefined;
  clearTimeout(retry);
  leaveEvents();
  leaveHealth();
  Object.assign(session, { csrf: '', role: '', user: '' });
  $('who').textContent = '';
  $('live').textContent = '';
  current = '';
  show('login');
}

for (const title of document.querySelectorAll('section > h1')) title.tabIndex = -1;

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('login-error').textContent = '';
  try {
    const me = await api('/api/login', { method: 'POST', body: JSON.stringify({ user: $('user').value, password: $('password').value }) });
    $('password').value = '';
    signedIn(me);
  } catch (err) {
    $('login-error').textContent = err.status === 401 ? 'Wrong user or password.' : `Login failed: ${err.message}`;
  }
});

$('logout').addEventListener('click', async () => {
  await api('/api/logout', { method: 'POST' }).catch(() => undefined);
  signedOut();
});

window.addEventListener('hashchange', route);
window.addEventListener('roadlog:unauthenticated', signedOut);

api('/api/me').then(signedIn, () => show('login'));
