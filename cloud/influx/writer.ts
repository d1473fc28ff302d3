import { backoffDelay } from '../../shared/retry/backoff.js';
import type { Logger } from '../../shared/logging/index.js';

export interface InfluxTarget {
  /** e.g. http://127.0.0.1:8086 */
  url: string;
  database: string;
  retentionPolicy?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
  requestTimeoutMs: number;
}

export interface WriterEvents {
  /** A batch written (points, ms). */
  written(points: number, ms: number): void;
  /** A point InfluxDB refused (4xx): counted, logged, not sent again. */
  rejected(line: string, status: number, message: string): void;
  /** A failed request that will be tried again. */
  retry(status: number | string, attempt: number): void;
}

/**
 * Writes lines to InfluxDB's v1 `/write` API (`precision=ms`), one request per batch.
 *
 * - 2xx: written.
 * - 400 (a point it cannot parse, a field of the wrong type): the batch is split in halves and
 *   each written again, down to the single point at fault, which is counted and logged and
 *   not sent again; InfluxDB 1.x writes a partial batch's good points, so sending them again
 *   only overwrites them.
 * - 404 (no such database): `CREATE DATABASE`, then again.
 * - anything else (5xx, 401/403, a refused or timed-out connection): again, with backoff, until
 *   it works or `stopped()` says to give up (the caller has not committed those offsets, so a
 *   restart sends them again). Holding the batch until then is the back-pressure: the sink
 *   reads no more from Kafka meanwhile.
 */
export class InfluxWriter {
  constructor(
    private readonly target: InfluxTarget,
    private readonly events: WriterEvents,
    private readonly logger: Logger,
    private readonly stopped: () => boolean = () => false,
    private readonly heartbeat: () => Promise<void> = async () => {},
  ) {}

  async write(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    for (let attempt = 0; ; attempt++) {
      const t0 = performance.now();
      const res = await this.post(lines).catch((err: unknown) => ({ status: 0, text: (err as Error).message }));
      if (res.status >= 200 && res.status < 300) {
        this.events.written(lines.length, performance.now() - t0);
        return;
      }
      if (res.status === 400) {
        if (lines.length === 1) {
          this.events.rejected(lines[0]!, res.status, res.text);
          this.logger.warn({ status: res.status, error: res.text.slice(0, 500), line: lines[0]!.slice(0, 500) }, 'influx: InfluxDB refused a point; counted, not sent again');
          return;
        }
        const half = Math.ceil(lines.length / 2);
        await this.write(lines.slice(0, half));
        await this.write(lines.slice(half));
        return;
      }
      if (res.status === 404 && /database not found/i.test(res.text)) {
        await this.createDatabase();
        continue;
      }
      if (this.stopped()) throw new Error(`influx: stopping with a batch not written (${res.status || res.text})`);
      this.events.retry(res.status || 'network', attempt);
      if (attempt === 0 || attempt % 10 === 0) this.logger.warn({ status: res.status, error: res.text.slice(0, 300), attempt }, 'influx: a write failed; trying again (Kafka offsets wait)');
      await new Promise((r) => setTimeout(r, backoffDelay(attempt, { initialMs: 200, maxMs: 5_000 })));
      await this.heartbeat();
    }
  }

  /** `CREATE DATABASE` (idempotent in InfluxDB 1.x). */
  async createDatabase(): Promise<void> {
    const q = `CREATE DATABASE "${this.target.database.replace(/"/g, '\\"')}"`;
    const res = await this.request('/query', new URLSearchParams({ q }));
    if (res.status < 200 || res.status >= 300) throw new Error(`influx: ${q} answered ${res.status}: ${res.text.slice(0, 300)}`);
  }

  /** An InfluxQL statement (GET /query to read, POST to change); its JSON, or an error naming what InfluxDB said. */
  async query(q: string, method: 'GET' | 'POST' = 'GET'): Promise<unknown> {
    const params = new URLSearchParams({ db: this.target.database, q, epoch: 'ms' });
    const res = method === 'GET' ? await this.request(`/query?${params}`, undefined) : await this.request('/query', params);
    if (res.status < 200 || res.status >= 300) throw new Error(`influx: ${q} answered ${res.status}: ${res.text.slice(0, 300)}`);
    const json = JSON.parse(res.text) as { results?: { error?: string }[] };
    const error = json.results?.find((r) => r.error !== undefined)?.error;
    if (error !== undefined) throw new Error(`influx: ${q}: ${error}`);
    return json;
  }

  private post(lines: readonly string[]): Promise<{ status: number; text: string }> {
    const params = new URLSearchParams({ db: this.target.database, precision: 'ms' });
    if (this.target.retentionPolicy !== undefined) params.set('rp', this.target.retentionPolicy);
    return this.request(`/write?${params}`, lines.join('\n'));
  }

  private async request(path: string, body: string | URLSearchParams | undefined): Promise<{ status: number; text: string }> {
    const res = await fetch(new URL(path, this.target.url), { method: body === undefined ? 'GET' : 'POST', headers: influxAuthHeaders(this.target), body, signal: AbortSignal.timeout(this.target.requestTimeoutMs) });
    return { status: res.status, text: await res.text() };
  }
}

/** HTTP basic auth for InfluxDB's v1 API, when the target has a user (the /write and /query requests). */
export function influxAuthHeaders(target: Pick<InfluxTarget, 'username' | 'password'>): Record<string, string> {
  return target.username === undefined ? {} : { authorization: `Basic ${Buffer.from(`${target.username}:${target.password ?? ''}`).toString('base64')}` };
}
