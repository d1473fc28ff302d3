import { constants } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/**
 * Every byte the log reads or writes goes through a FileLayer, so tests can swap the real
 * file system for SimulatedFileLayer (test/edge/log/support/: it can lose everything not
 * fsynced, or fail with ENOSPC/EIO on the call a test picks). Failures are Node-style errors with `code` set.
 */
export interface LogFile {
  readonly path: string;
  /** Appends all of `data` at the end of the file, or throws; after a throw some prefix of it may be in the file. */
  append(data: Uint8Array): Promise<void>;
  /** Up to `length` bytes from `position` (fewer at end of file). */
  read(position: number, length: number): Promise<Buffer>;
  size(): Promise<number>;
  /** fdatasync: the file's bytes are durable when this resolves. */
  datasync(): Promise<void>;
  /**
   * Opened with `{ dsync: true }` where the platform has O_DSYNC: each `append` resolves only
   * when its bytes (and the size needed to read them) are durable, as if followed by
   * `datasync()`. One system call and one trip through libuv's thread pool per write instead of
   * two. Truncation is not covered: call `datasync()` after `truncate()`.
   */
  readonly dsync: boolean;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

/** `read`: existing file, read only. `append`: read and append, created when missing. `create-new`: fails with EEXIST when present. */
export type OpenMode = 'read' | 'append' | 'create-new';

export interface OpenOptions {
  /** Durable appends (O_DSYNC), where available; see LogFile.dsync. */
  dsync?: boolean;
}

export interface FileLayer {
  open(path: string, mode: OpenMode, options?: OpenOptions): Promise<LogFile>;
  /** Names in a directory (not sorted). */
  readdir(dir: string): Promise<string[]>;
  /** Creates the directory and missing parents, durably (each new directory's parent is fsynced); no error when it exists. */
  mkdir(dir: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** fsync of a directory: creates, renames and unlinks in it are durable when this resolves. */
  fsyncDir(dir: string): Promise<void>;
  /** Size of a file, or undefined when it does not exist. */
  stat(path: string): Promise<{ size: number } | undefined>;
}

export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : undefined;
}

/** Reads a whole file, or undefined when it does not exist. */
export async function readWholeFile(layer: FileLayer, path: string): Promise<Buffer | undefined> {
  let file: LogFile;
  try {
    file = await layer.open(path, 'read');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return await file.read(0, await file.size());
  } finally {
    await file.close();
  }
}

class NodeLogFile implements LogFile {
  constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    readonly dsync: boolean,
  ) {}

  async append(data: Uint8Array): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.fh.write(data, done, data.length - done, null);
      done += bytesWritten;
    }
  }

  async read(position: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await this.fh.read(buf, got, length - got, position + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got === length ? buf : buf.subarray(0, got);
  }

  async size(): Promise<number> {
    return (await this.fh.stat()).size;
  }

  datasync(): Promise<void> {
    return this.fh.datasync();
  }

  truncate(length: number): Promise<void> {
    return this.fh.truncate(length);
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

const FLAGS: Record<OpenMode, number> = {
  read: constants.O_RDONLY,
  append: constants.O_RDWR | constants.O_APPEND | constants.O_CREAT,
  'create-new': constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | constants.O_EXCL,
};

async function fsyncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** 0 where the platform has no O_DSYNC (Windows): appends are then followed by datasync(). */
const O_DSYNC: number = (constants as { O_DSYNC?: number }).O_DSYNC ?? 0;

/** The real file system (node:fs/promises, one fd per open file). */
export const nodeFileLayer: FileLayer = {
  async open(path, mode, options) {
    const dsync = options?.dsync === true && mode !== 'read' && O_DSYNC !== 0;
    return new NodeLogFile(path, await open(path, FLAGS[mode] | (dsync ? O_DSYNC : 0), 0o644), dsync);
  },
  readdir: (dir) => readdir(dir),
  async mkdir(dir) {
    // The first directory created, if any; then fsync the parent of each one created, so the
    // new directories survive a power cut (their own entries are the caller's to fsync).
    const first = await mkdir(dir, { recursive: true });
    if (first === undefined) return;
    for (let d = resolve(dir); ; d = dirname(d)) {
      await fsyncDirectory(dirname(d));
      if (d === resolve(first) || dirname(d) === d) break;
    }
  },
  rename: (from, to) => rename(from, to),
  unlink: (path) => unlink(path),
  fsyncDir: (dir) => fsyncDirectory(dir),
  async stat(path) {
    try {
      return { size: (await stat(path)).size };
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    }
  },
};
