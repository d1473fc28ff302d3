// The health page: latency from the components' metrics, rejects by reason, dead letters per minute.
import { $, api, duration, el, failure, table } from './ui.js';

let timer;

export function healthPage() {
  void load();
  clearInterval(timer);
  timer = setInterval(load, 10_000);
}

export function leaveHealth() {
  clearInterval(timer);
}

const bound = (s) => (s === null ? '-' : s === Infinity || s === 'Infinity' ? '> the last bucket' : `≤ ${duration(s)}`);

async function load(event) {
  event?.preventDefault();
  try {
    const h = await api('/api/health');
    const down = h.targets.filter((t) => !t.up);
    $('health-status').textContent = h.targets.length === 0 ? 'No component metrics configured (console.metrics, or --metrics): latency and rejects stay empty.' : `${h.targets.length - down.length} of ${h.targets.length} components answer.`;
    const dl = h.deadLetters;
    $('health-body').replaceChildren(
      table('End-to-end latency (p50 and p99: the bucket each falls in)', ['Stage', 'Samples', 'p50', 'p99', 'Metric'], h.latency.map((l) => [l.label, l.count, bound(l.p50Seconds), bound(l.p99Seconds), l.metric])),
      h.rejects.length === 0 ? el('p', { textContent: 'Rejected at the gateways: none counted by the edge agents whose metrics the console reads.' }) : table('Rejected at the gateways, by reason', ['Reason', 'Messages'], h.rejects.map((r) => [r.reason, r.count])),
      dl.error ? el('p', { className: 'error', textContent: `Dead letters: ${dl.error}` }) : table('Dead letters per minute (UTC)', ['Minute', 'Dead letters'], dl.minutes.map((m) => [m.minute, m.count])),
      table('Components', ['Metrics URL', 'Component', 'Answers', 'Error'], h.targets.map((t) => [t.url, t.component, t.up ? 'yes' : 'no', t.error])),
    );
  } catch (err) {
    if (err.status === 401) return window.dispatchEvent(new Event('roadlog:unauthenticated'));
    failure($('health-body'), 'Health', err);
  }
}

$('health-form').addEventListener('submit', load);
