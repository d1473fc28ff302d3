import type { FastifyInstance } from 'fastify';
import { influxAuthHeaders, type InfluxTarget } from '../influx/writer.js';
import type { LiveFeeds } from './feeds.js';

/**
 * `GET /api/vehicles/:id[?hours=1]`: one vehicle's page. Its recent telemetry comes from
 * InfluxDB (what the sink wrote, at device time): the `hours` before its newest point, as
 * 30-second means of speed, coolant, oil pressure, battery and fuel level, drawn on the server
 * as SVG charts (ECharts, like the html report); its gateway is the `gatewayId` tag of its
 * newest point; its alerts are the live ones (open, acknowledged, recently cleared). Its report
 * figures come from `/api/reports/fleet?vehicle=`, the page asks for them itself.
 */
export interface VehicleApiOptions {
  influx: InfluxTarget;
  feeds: LiveFeeds;
}

export const VEHICLE_SERIES = [
  { field: 'speedKph', title: 'Speed (km/h)' },
  { field: 'coolantC', title: 'Coolant (°C)' },
  { field: 'oilPressureKpa', title: 'Oil pressure (kPa)' },
  { field: 'batteryV', title: 'Battery (V)' },
  { field: 'fuelLevelPct', title: 'Fuel level (%)' },
] as const;

interface InfluxSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

export function registerVehicleApi(app: FastifyInstance, o: VehicleApiOptions): void {
  app.get<{ Params: { id: string }; Querystring: { hours?: number } }>('/api/vehicles/:id', {
    schema: {
      params: { type: 'object', properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,64}$' } } },
      querystring: { type: 'object', additionalProperties: false, properties: { hours: { type: 'number', minimum: 0.1, maximum: 168 } } },
    },
  }, async (req) => {
    const id = req.params.id;
    const alerts = o.feeds.alerts().filter((a) => a.vehicleId === id);
    let telemetry: { from: string; to: string; gatewayId: string | null; points: number; chartsSvg: string[] } | null = null;
    let problem: string | null = null;
    try {
      telemetry = await recentTelemetry(o.influx, id, req.query.hours ?? 1);
      if (telemetry === null) problem = `InfluxDB has no telemetry for ${id}`;
    } catch (err) {
      problem = `InfluxDB: ${(err as Error).message}`;
    }
    return { vehicleId: id, gatewayId: telemetry?.gatewayId ?? alerts[0]?.gatewayId ?? null, telemetry, problem, alerts };
  });
}

async function recentTelemetry(influx: InfluxTarget, id: string, hours: number): Promise<{ from: string; to: string; gatewayId: string | null; points: number; chartsSvg: string[] } | null> {
  const v = id.replace(/['\\]/g, (c) => `\\${c}`);
  const [latest] = await query(influx, `SELECT last("speedKph") FROM "telemetry" WHERE "vehicleId" = '${v}' GROUP BY "gatewayId"`);
  const newest = (latest ?? []).map((s) => ({ gatewayId: s.tags?.gatewayId ?? null, t: Number(s.values[0]?.[0]) })).sort((a, b) => b.t - a.t)[0];
  if (newest === undefined || !Number.isFinite(newest.t)) return null;
  const from = Math.floor(newest.t - hours * 3_600_000);
  const fields = VEHICLE_SERIES.map((s) => `mean("${s.field}") AS "${s.field}"`).join(', ');
  const [series] = await query(influx, `SELECT ${fields}, count("speedKph") AS "points" FROM "telemetry" WHERE "vehicleId" = '${v}' AND time > ${from}ms AND time <= ${newest.t}ms GROUP BY time(30s) fill(none)`);
  const s = series?.[0];
  const rows = s?.values ?? [];
  const col = (name: string) => s?.columns.indexOf(name) ?? -1;
  const { loadECharts } = await import('../report/html.js');
  const echarts = await loadECharts();
  const chartsSvg = VEHICLE_SERIES.map((spec) => {
    const i = col(spec.field);
    const data = rows.filter((r) => typeof r[i] === 'number').map((r) => [Number(r[0]), r[i] as number]);
    const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: 460, height: 220 });
    chart.setOption({
      animation: false,
      title: { text: spec.title, textStyle: { fontSize: 13 } },
      grid: { left: 10, right: 20, top: 40, bottom: 10, containLabel: true },
      xAxis: { type: 'time', axisLabel: { fontSize: 10 } },
      yAxis: { type: 'value', scale: true, axisLabel: { formatter: (v: number) => String(Math.round(v * 100) / 100) } },
      series: [{ type: 'line', showSymbol: false, data, lineStyle: { color: '#2f6db5' } }],
    });
    const svg = chart.renderToSVGString();
    chart.dispose();
    return svg;
  });
  const points = rows.reduce((n, r) => n + (typeof r[col('points')] === 'number' ? (r[col('points')] as number) : 0), 0);
  return { from: new Date(from).toISOString(), to: new Date(newest.t).toISOString(), gatewayId: newest.gatewayId, points, chartsSvg };
}

/** InfluxQL over the v1 `/query` API (epoch=ms); each statement's series. */
async function query(influx: InfluxTarget, q: string): Promise<InfluxSeries[][]> {
  const url = new URL('/query', influx.url);
  url.searchParams.set('db', influx.database);
  url.searchParams.set('epoch', 'ms');
  url.searchParams.set('q', q);
  const res = await fetch(url, { headers: influxAuthHeaders(influx), signal: AbortSignal.timeout(influx.requestTimeoutMs) });
  const body = (await res.json().catch(() => ({}))) as { results?: { series?: InfluxSeries[]; error?: string }[]; error?: string };
  if (!res.ok || body.error !== undefined) throw new Error(`HTTP ${res.status}: ${body.error ?? 'no answer'}`);
  const failed = body.results?.find((r) => r.error !== undefined);
  if (failed !== undefined) throw new Error(failed.error);
  return (body.results ?? []).map((r) => r.series ?? []);
}
