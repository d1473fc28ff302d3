import { join } from 'node:path';
import { RoadlogError } from '../../shared/errors/index.js';
import { writeFileAtomic } from '../../shared/atomic-file/index.js';
import { Mutex } from '../../shared/mutex/index.js';
import { errnoCode, readWholeFile, type FileLayer } from './file-layer.js';

/**
 * A cursor is a reader's committed position per (lane, partition): the next offset it will
 * read. Stored in `<dir>/cursors/<name>.json`, replaced crash-safely (temp file, fsync,
 * rename, fsync the directory), so after a crash it is the last committed value, never a mix.
 *
 *   { "version": 1, "name": "forwarder", "positions": { "critical/0": 12, "normal/3": 40 }, "committedAt": "..." }
 */
export type CursorPositions = Record<string, number>;

export const positionKey = (lane: string, partition: number): string => `${lane}/${partition}`;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function checkCursorName(name: string): void {
  if (!NAME.test(name) || name.endsWith('.tmp')) throw new RoadlogError('ROADLOG_ERR_USAGE', `cursor name ${JSON.stringify(name)}: expected 1-64 letters, digits, '_', '.', '-'`);
}

export class CursorStore {
  readonly dir: string;
  /** One per cursor name: its saves. */
  private readonly saving = new Map<string, Mutex>();

  constructor(
    private readonly fs: FileLayer,
    logDir: string,
  ) {
    this.dir = join(logDir, 'cursors');
  }

  async load(name: string): Promise<CursorPositions | undefined> {
    checkCursorName(name);
    const raw = await readWholeFile(this.fs, join(this.dir, `${name}.json`));
    if (raw === undefined) return undefined;
    try {
      const doc = JSON.parse(raw.toString('utf8')) as { version?: unknown; positions?: unknown };
      if (doc.version !== 1 || typeof doc.positions !== 'object' || doc.positions === null) throw new Error('unknown layout');
      const out: CursorPositions = {};
      for (const [k, v] of Object.entries(doc.positions)) {
        if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Error(`position ${k}: ${String(v)}`);
        out[k] = v;
      }
      return out;
    } catch (err) {
      throw new RoadlogError('ROADLOG_ERR_LOG_CORRUPT', `cursor ${name} (${join(this.dir, `${name}.json`)}): ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Replaces a cursor durably. Saves of one cursor run one after another, in call order (they
   * share the temp file, and the last call must be the value that stays).
   */
  async save(name: string, positions: CursorPositions): Promise<void> {
    checkCursorName(name);
    const doc = { version: 1, name, positions, committedAt: new Date().toISOString() };
    let mutex = this.saving.get(name);
    if (mutex === undefined) this.saving.set(name, (mutex = new Mutex()));
    return mutex.run(() => writeFileAtomic(join(this.dir, `${name}.json`), `${JSON.stringify(doc)}\n`, { fs: this.fs }));
  }

  /** Resolves when no save is in progress. */
  async idle(): Promise<void> {
    const busy = (): Mutex[] => [...this.saving.values()].filter((m) => m.pending > 0);
    for (let b = busy(); b.length > 0; b = busy()) await Promise.all(b.map((m) => m.idle()));
  }

  async names(): Promise<string[]> {
    try {
      return (await this.fs.readdir(this.dir))
        .filter((n) => n.endsWith('.json'))
        .map((n) => n.slice(0, -5))
        .sort();
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return [];
      throw err;
    }
  }

  async loadAll(): Promise<Map<string, CursorPositions>> {
    const out = new Map<string, CursorPositions>();
    for (const n of await this.names()) out.set(n, (await this.load(n)) ?? {});
    return out;
  }
}
