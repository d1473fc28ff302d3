import { posix } from 'node:path';
import type { FileLayer, LogFile, OpenMode, OpenOptions } from '../../../../edge/log/file-layer.js';

/**
 * An in-memory file system that models what survives a power cut, for tests (fault tests of
 * other components can use it too).
 *
 * - File data is durable up to the last `datasync()`; anything appended after it is lost by
 *   `crash()` (or, with `crash({ torn })`, a random prefix of it survives, like a real disk).
 * - Creates, renames and unlinks are durable only after `fsyncDir()` of the parent; `mkdir()`
 *   makes the directories it creates durable (it fsyncs their parents, as the real layer does).
 * - `crash()` returns the machine after reboot: a new handle on the surviving state. The old
 *   handle and its open files are dead (every call fails with EIO), like the killed process.
 * - `inject` fails chosen calls with ENOSPC or EIO; `capacityBytes` is a small disk: an
 *   append that does not fit writes what fits and fails with ENOSPC, as write(2) does.
 * - `stall` holds chosen appends, datasyncs and directory fsyncs until the promise it returns
 *   settles (a slow disk).
 */
export type FaultOp = 'open' | 'append' | 'read' | 'datasync' | 'truncate' | 'readdir' | 'mkdir' | 'rename' | 'unlink' | 'fsyncDir' | 'stat';
export type FaultInjector = (op: FaultOp, path: string) => 'ENOSPC' | 'EIO' | undefined;

interface Inode {
  data: Buffer;
  length: number;
  durableLength: number;
  /** Set when a truncate cut below the durable length: the durable bytes, kept apart. */
  frozen: Buffer | undefined;
}
type Entry = { kind: 'dir' } | { kind: 'file'; inode: Inode };

interface Storage {
  live: Map<string, Entry>;
  durable: Map<string, Entry>;
  capacityBytes: number | undefined;
}

const { dirname, normalize } = posix;

function errnoError(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  const err = new Error(`${code}: ${syscall} '${path}'`) as NodeJS.ErrnoException;
  err.code = code;
  err.syscall = syscall;
  err.path = path;
  return err;
}

export class SimulatedFileLayer implements FileLayer {
  inject: FaultInjector | undefined;
  stall: ((op: 'append' | 'datasync' | 'fsyncDir', path: string) => Promise<void> | undefined) | undefined;
  private alive = true;
  /** Calls made, by operation (for tests that assert on fsync cadence). */
  readonly calls: Record<FaultOp, number> = { open: 0, append: 0, read: 0, datasync: 0, truncate: 0, readdir: 0, mkdir: 0, rename: 0, unlink: 0, fsyncDir: 0, stat: 0 };
  /** Files opened and not yet closed, by path (each open counts: the file descriptors a process would hold). */
  readonly openFiles = new Map<string, number>();

  constructor(options: { capacityBytes?: number } = {}, storage?: Storage) {
    this.storage = storage ?? { live: new Map([['/', { kind: 'dir' }]]), durable: new Map([['/', { kind: 'dir' }]]), capacityBytes: options.capacityBytes };
  }
  private readonly storage: Storage;

  set capacityBytes(n: number | undefined) {
    this.storage.capacityBytes = n;
  }

  /** Bytes held by live files. */
  usedBytes(): number {
    let n = 0;
    for (const e of this.storage.live.values()) if (e.kind === 'file') n += e.inode.length;
    return n;
  }

  /**
   * Power cut: drops what was not made durable and returns the rebooted machine's view.
   * `torn` (a random source) keeps a random prefix of each file's unsynced bytes instead.
   */
  crash(options: { torn?: () => number } = {}): SimulatedFileLayer {
    this.alive = false;
    const { durable } = this.storage;
    const live = new Map<string, Entry>();
    const paths = [...durable.keys()].sort((a, b) => a.length - b.length);
    for (const p of paths) {
      if (p !== '/' && live.get(dirname(p))?.kind !== 'dir') continue;
      live.set(p, durable.get(p)!);
    }
    const seen = new Set<Inode>();
    for (const e of live.values()) {
      if (e.kind !== 'file' || seen.has(e.inode)) continue;
      seen.add(e.inode);
      const ino = e.inode;
      const base = ino.frozen ?? ino.data.subarray(0, ino.durableLength);
      let keep = base.length;
      let extra: Buffer | undefined;
      if (options.torn !== undefined && ino.frozen === undefined && ino.length > ino.durableLength) {
        keep = ino.durableLength + Math.floor(options.torn() * (ino.length - ino.durableLength + 1));
        extra = ino.data.subarray(ino.durableLength, keep);
      }
      const data = Buffer.alloc(Math.max(64, keep));
      base.copy(data);
      if (extra !== undefined) extra.copy(data, base.length);
      Object.assign(ino, { data, length: keep, durableLength: keep, frozen: undefined });
    }
    return new SimulatedFileLayer({}, { live, durable: new Map(live), capacityBytes: this.storage.capacityBytes });
  }

  /** Flips one bit of a file, live and durable (a disk error under the log). */
  flipBit(path: string, bit: number): void {
    const ino = this.fileInode(normalize(path), 'flip');
    const at = bit >> 3;
    if (at >= ino.length) throw new RangeError(`flipBit: ${path} has ${ino.length} bytes`);
    ino.data[at]! ^= 1 << (bit & 7);
    if (ino.frozen !== undefined && at < ino.frozen.length) ino.frozen[at]! ^= 1 << (bit & 7);
  }

  /** The live bytes of a file (a copy). */
  contents(path: string): Buffer {
    const ino = this.fileInode(normalize(path), 'contents');
    return Buffer.from(ino.data.subarray(0, ino.length));
  }

  private check(op: FaultOp, path: string): void {
    this.calls[op]++;
    if (!this.alive) throw errnoError('EIO', op, path);
    const fault = this.inject?.(op, path);
    if (fault !== undefined) throw errnoError(fault, op, path);
  }

  private fileInode(path: string, op: string): Inode {
    const e = this.storage.live.get(path);
    if (e === undefined) throw errnoError('ENOENT', op, path);
    if (e.kind !== 'file') throw errnoError('EISDIR', op, path);
    return e.inode;
  }

  private parentMustExist(path: string, op: string): void {
    if (this.storage.live.get(dirname(path))?.kind !== 'dir') throw errnoError('ENOENT', op, path);
  }

  async open(rawPath: string, mode: OpenMode, options?: OpenOptions): Promise<LogFile> {
    const path = normalize(rawPath);
    this.check('open', path);
    const existing = this.storage.live.get(path);
    if (existing?.kind === 'dir') throw errnoError('EISDIR', 'open', path);
    if (mode === 'create-new' && existing !== undefined) throw errnoError('EEXIST', 'open', path);
    let inode: Inode;
    if (existing === undefined) {
      if (mode === 'read') throw errnoError('ENOENT', 'open', path);
      this.parentMustExist(path, 'open');
      inode = { data: Buffer.alloc(256), length: 0, durableLength: 0, frozen: undefined };
      this.storage.live.set(path, { kind: 'file', inode });
    } else {
      inode = existing.inode;
    }
    this.openFiles.set(path, (this.openFiles.get(path) ?? 0) + 1);
    return new SimulatedFile(this, path, inode, mode !== 'read', options?.dsync === true && mode !== 'read');
  }

  /** @internal used by SimulatedFile */
  closed(path: string): void {
    const n = (this.openFiles.get(path) ?? 0) - 1;
    if (n > 0) this.openFiles.set(path, n);
    else this.openFiles.delete(path);
  }

  /** @internal used by SimulatedFile */
  op(op: FaultOp, path: string): void {
    this.check(op, path);
  }

  /** @internal bytes that still fit on the simulated disk */
  room(): number {
    const cap = this.storage.capacityBytes;
    return cap === undefined ? Infinity : Math.max(0, cap - this.usedBytes());
  }

  async readdir(rawDir: string): Promise<string[]> {
    const dir = normalize(rawDir);
    this.check('readdir', dir);
    const e = this.storage.live.get(dir);
    if (e === undefined) throw errnoError('ENOENT', 'readdir', dir);
    if (e.kind !== 'dir') throw errnoError('ENOTDIR', 'readdir', dir);
    const names: string[] = [];
    for (const p of this.storage.live.keys()) if (p !== '/' && dirname(p) === dir) names.push(p.slice(dir === '/' ? 1 : dir.length + 1));
    return names;
  }

  async mkdir(rawDir: string): Promise<void> {
    const dir = normalize(rawDir);
    this.check('mkdir', dir);
    const missing: string[] = [];
    for (let p = dir; !this.storage.live.has(p); p = dirname(p)) missing.unshift(p);
    for (const p of missing) this.storage.live.set(p, { kind: 'dir' });
    if (this.storage.live.get(dir)?.kind !== 'dir') throw errnoError('EEXIST', 'mkdir', dir);
    for (const p of missing) this.syncEntries(dirname(p)); // as the real layer does: new directories are durable
  }

  async rename(rawFrom: string, rawTo: string): Promise<void> {
    const from = normalize(rawFrom);
    const to = normalize(rawTo);
    this.check('rename', from);
    const e = this.storage.live.get(from);
    if (e === undefined) throw errnoError('ENOENT', 'rename', from);
    if (e.kind !== 'file') throw errnoError('EISDIR', 'rename', from);
    this.parentMustExist(to, 'rename');
    this.storage.live.delete(from);
    this.storage.live.set(to, e);
  }

  async unlink(rawPath: string): Promise<void> {
    const path = normalize(rawPath);
    this.check('unlink', path);
    this.fileInode(path, 'unlink');
    this.storage.live.delete(path);
  }

  async fsyncDir(rawDir: string): Promise<void> {
    const dir = normalize(rawDir);
    await this.stall?.('fsyncDir', dir);
    this.check('fsyncDir', dir);
    if (this.storage.live.get(dir)?.kind !== 'dir') throw errnoError('ENOENT', 'fsyncDir', dir);
    this.syncEntries(dir);
  }

  /** Makes a directory's entries (creates, renames, unlinks in it) durable. */
  private syncEntries(dir: string): void {
    const { live, durable } = this.storage;
    for (const p of [...durable.keys()]) if (p !== '/' && dirname(p) === dir && !live.has(p)) durable.delete(p);
    for (const [p, e] of live) if (p !== '/' && dirname(p) === dir) durable.set(p, e);
  }

  async stat(rawPath: string): Promise<{ size: number } | undefined> {
    const path = normalize(rawPath);
    this.check('stat', path);
    const e = this.storage.live.get(path);
    if (e === undefined) return undefined;
    return { size: e.kind === 'file' ? e.inode.length : 0 };
  }
}

class SimulatedFile implements LogFile {
  private closed = false;

  constructor(
    private readonly fs: SimulatedFileLayer,
    readonly path: string,
    private readonly inode: Inode,
    private readonly writable: boolean,
    readonly dsync: boolean,
  ) {}

  private use(op: FaultOp): void {
    if (this.closed) throw errnoError('EBADF', op, this.path);
    this.fs.op(op, this.path);
    if (!this.writable && (op === 'append' || op === 'truncate')) throw errnoError('EBADF', op, this.path);
  }

  async append(data: Uint8Array): Promise<void> {
    await this.fs.stall?.('append', this.path);
    this.use('append');
    const fits = Math.min(data.length, this.fs.room());
    const ino = this.inode;
    // O_DSYNC flushes the range it writes, nothing else: only when everything before it is
    // already durable (no unsynced bytes, no pending truncate) does the file's durable end move.
    const contiguous = ino.durableLength === ino.length && ino.frozen === undefined;
    if (ino.length + fits > ino.data.length) {
      const grown = Buffer.alloc(Math.max(ino.data.length * 2, ino.length + fits));
      ino.data.copy(grown, 0, 0, ino.length);
      ino.data = grown;
    }
    ino.data.set(data.subarray(0, fits), ino.length);
    ino.length += fits;
    if (fits < data.length) {
      // A short O_DSYNC write before the ENOSPC: its prefix is durable (recovery must cut it).
      if (this.dsync && contiguous) ino.durableLength = ino.length;
      throw errnoError('ENOSPC', 'write', this.path);
    }
    // O_DSYNC: the write does an fdatasync's work before it returns, so the faults and stalls a
    // test sets on 'datasync' strike here too (an EIO leaves the bytes written but not durable).
    if (this.dsync) {
      await this.fs.stall?.('datasync', this.path);
      this.use('datasync');
      if (contiguous) ino.durableLength = ino.length;
    }
  }

  async read(position: number, length: number): Promise<Buffer> {
    this.use('read');
    const end = Math.min(this.inode.length, position + length);
    return Buffer.from(this.inode.data.subarray(Math.min(position, end), end));
  }

  async size(): Promise<number> {
    this.use('stat');
    return this.inode.length;
  }

  async datasync(): Promise<void> {
    await this.fs.stall?.('datasync', this.path);
    this.use('datasync');
    this.inode.durableLength = this.inode.length;
    this.inode.frozen = undefined;
  }

  async truncate(length: number): Promise<void> {
    this.use('truncate');
    const ino = this.inode;
    if (length < ino.durableLength && ino.frozen === undefined) ino.frozen = Buffer.from(ino.data.subarray(0, ino.durableLength));
    if (length > ino.length) {
      const grown = Buffer.alloc(Math.max(ino.data.length, length));
      ino.data.copy(grown, 0, 0, ino.length);
      ino.data = grown;
    } else {
      ino.data.fill(0, length, ino.length);
    }
    ino.length = length;
  }

  async close(): Promise<void> {
    if (!this.closed) this.fs.closed(this.path);
    this.closed = true;
  }
}
