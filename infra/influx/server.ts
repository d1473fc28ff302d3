/**
 * InfluxDB 1.x (Debian package `influxdb`, /usr/bin/influxd) on 127.0.0.1, started from a
 * data directory: influxdb.conf, meta/, data/, wal/ and influxd.log (stdout/stderr) in `dir`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { LOOPBACK, assertCanStart, daemonStatus, freePorts, startDaemon, stopDaemon, type DaemonInfo, type DaemonStatus } from '../service/index.js';

export const INFLUXD_BIN = '/usr/bin/influxd';

export interface StartInfluxOptions {
  dir: string;
  /** HTTP API port; 0 or undefined: a free port is picked. */
  port?: number;
  /** RPC (backup/restore) port; 0 or undefined: a free port is picked. */
  rpcPort?: number;
  /** Default 20000. */
  startTimeoutMs?: number;
  /** Default process.env.ROADLOG_INFLUXD_BIN ?? /usr/bin/influxd. */
  bin?: string;
}

export type InfluxInfo = DaemonInfo;

/** influxdb.conf (TOML) with everything under `dir`, HTTP and RPC on loopback. */
export function renderInfluxConf(dir: string, port: number, rpcPort: number): string {
  const q = (s: string): string => JSON.stringify(s);
  return `# Written by roadlog (infra/influx/server.ts); rewritten at every start.
reporting-disabled = true
bind-address = ${q(`${LOOPBACK}:${rpcPort}`)}

[meta]
  dir = ${q(join(dir, 'meta'))}

[data]
  dir = ${q(join(dir, 'data'))}
  wal-dir = ${q(join(dir, 'wal'))}
  query-log-enabled = false

[http]
  enabled = true
  bind-address = ${q(`${LOOPBACK}:${port}`)}
  auth-enabled = false
  log-enabled = false

[monitor]
  store-enabled = false

[logging]
  format = "logfmt"
  level = "info"
`;
}

export async function startInflux(opts: StartInfluxOptions): Promise<InfluxInfo> {
  const dir = resolve(opts.dir);
  const bin = opts.bin ?? process.env['ROADLOG_INFLUXD_BIN'] ?? INFLUXD_BIN;
  await assertCanStart('influxd', bin, dir);
  const [freeHttp, freeRpc] = await freePorts(2);
  const port = opts.port !== undefined && opts.port !== 0 ? opts.port : (freeHttp as number);
  const rpcPort = opts.rpcPort !== undefined && opts.rpcPort !== 0 ? opts.rpcPort : (freeRpc as number);
  const confFile = join(dir, 'influxdb.conf');
  await mkdir(dir, { recursive: true });
  await writeFile(confFile, renderInfluxConf(dir, port, rpcPort));
  const url = `http://${LOOPBACK}:${port}`;
  return startDaemon({
    name: 'influxd',
    dir,
    port,
    ports: [port, rpcPort],
    url,
    command: bin,
    args: ['-config', confFile],
    outFile: join(dir, 'influxd.log'),
    probe: () => ping(url),
    timeoutMs: opts.startTimeoutMs ?? 20_000,
  });
}

async function ping(url: string): Promise<boolean> {
  const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1_000) });
  await res.arrayBuffer();
  return res.status === 204;
}

export async function stopInflux(dir: string, opts: { timeoutMs?: number } = {}): Promise<void> {
  await stopDaemon('influxd', dir, opts.timeoutMs ?? 10_000);
}

export function influxStatus(dir: string): Promise<DaemonStatus> {
  return daemonStatus('influxd', dir);
}
