import type { DuckDBConnection } from '@duckdb/node-api';
import { RoadlogError } from '../../shared/errors/index.js';

/**
 * DuckDB's Node API, loaded when a cloud command first needs it. It is an optional dependency
 * (a 70 MB native binding): a gateway install (infra/gateway/install.sh) leaves it out, and a
 * command that needs it there says so instead of failing on a module path.
 */
export async function loadDuckDB(): Promise<typeof import('@duckdb/node-api')> {
  try {
    return await import('@duckdb/node-api');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') throw new RoadlogError('ROADLOG_ERR_CLOUD_PACKAGE_MISSING', 'DuckDB (@duckdb/node-api) is not installed: this looks like a gateway install, which leaves the cloud\'s packages out; run the archive and the reports from a full install of roadlog', { cause: err });
    throw err;
  }
}

/** Runs `fn` on a connection to a fresh in-memory DuckDB, closed afterwards (the cloud commands' one-shot queries). */
export async function withDuckDB<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
  const { DuckDBInstance } = await loadDuckDB();
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    return await fn(conn);
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}
