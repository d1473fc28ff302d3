import { parsePrometheus, type Sample } from '../../shared/metrics/prometheus.js';
import type { DemoInfo } from './demo.js';

/**
 * The demo's live line, from what the parts themselves serve: vehicles connected and messages
 * acknowledged per second (the gateways' /metrics), each gateway's uplink and the records
 * waiting in its log (its /status), records in Kafka the hot path and the
 * archiver have not read yet (theirs), and the open alerts (the console's API, logged in as the
 * demo's user).
 */
let previous: { at: number; acks: number } | undefined;
let cookie: string | undefined;

export async function liveLine(info: DemoInfo): Promise<string> {
  const scrape = async (url: string): Promise<Sample[]> => {
    try {
      return parsePrometheus(await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(1_500) })).text());
    } catch {
      return [];
    }
  };
  const sum = (samples: Sample[], name: string) => samples.filter((s) => s.name === name).reduce((n, s) => n + s.value, 0);
  const edges = (await Promise.all(info.gateways.map((g) => scrape(g.http)))).flat();
  const [hot, cold] = await Promise.all([scrape(info.metrics.hot!), scrape(info.metrics.cold!)]);
  const acks = sum(edges, 'roadlog_edge_acks_total');
  const now = Date.now();
  const rate = previous === undefined ? 0 : (acks - previous.acks) / ((now - previous.at) / 1000);
  previous = { at: now, acks };
  const open = await openAlerts(info).catch(() => '?');
  const gateways = (await Promise.all(info.gateways.map(async (g) => `${g.id} ${await gatewayState(g.http)}`))).join(', ');
  return `${sum(edges, 'roadlog_edge_mqtt_connections')} vehicles connected · ${Math.round(rate)} msgs/s acknowledged · ${gateways} · Kafka lag: hot ${sum(hot, 'roadlog_hot_lag_records')}, archive ${sum(cold, 'roadlog_cold_lag_records')} · ${open} alerts open`;
}

/** `up` or `uplink down`, and the records waiting in its log when there are many (its /status). */
async function gatewayState(http: string): Promise<string> {
  try {
    const s = (await (await fetch(`${http}/status`, { signal: AbortSignal.timeout(1_500) })).json()) as { connected: boolean; backlog: { records: number } };
    return `${s.connected ? 'up' : 'uplink down'}${s.backlog.records >= 1_000 || !s.connected ? ` (${s.backlog.records} waiting)` : ''}`;
  } catch {
    return '?';
  }
}

async function openAlerts(info: DemoInfo): Promise<number> {
  if (cookie === undefined) {
    const r = await fetch(`${info.consoleUrl}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: info.user, password: info.password }), signal: AbortSignal.timeout(3_000) });
    cookie = r.headers.get('set-cookie')?.split(';')[0];
  }
  const r = await fetch(`${info.consoleUrl}/api/alerts`, { headers: { cookie: cookie ?? '' }, signal: AbortSignal.timeout(3_000) });
  if (r.status === 401) cookie = undefined;
  const body = (await r.json()) as { alerts: { state: string }[] };
  return body.alerts.filter((a) => a.state === 'open').length;
}
