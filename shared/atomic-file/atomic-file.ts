import { constants } from 'node:fs';
import { open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * What writeFileAtomic needs of a file system. `nodeAtomicFs` is the real one; the edge log
 * passes its FileLayer, which has this shape, so its tests can cut the power midway.
 */
export interface AtomicFs {
  /** `append`: created when missing, else reused (writeFileAtomic truncates it); `create-new`: fails with EEXIST when present. */
  open(path: string, mode: 'append' | 'create-new'): Promise<AtomicFile>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** fsync of a directory: a rename in it is durable when this resolves. */
  fsyncDir(dir: string): Promise<void>;
}

export interface AtomicFile {
  /** Appends all of `data`, or throws. */
  append(data: Uint8Array): Promise<void>;
  truncate(length: number): Promise<void>;
  /** The file's bytes are durable when this resolves. */
  datasync(): Promise<void>;
  close(): Promise<void>;
  /**
   * Gives this file the mode, and when run as root the owner, of the file at `path` if there is
   * one. Only where files have owners (nodeAtomicFs); the edge log's files are its own.
   */
  adoptOwnership?(path: string): Promise<void>;
}

export interface WriteFileAtomicOptions {
  /** Default nodeAtomicFs. */
  fs?: AtomicFs;
  /** The temp file, in the directory of `path`. Default `<path>.tmp`. */
  tmp?: string;
  /**
   * Fail with EEXIST when the temp file exists. Default false: a temp file that a crash left
   * behind is truncated and reused.
   */
  exclusive?: boolean;
  /**
   * Default true. False leaves the directory's fsync to the caller, who replaces several files
   * in one directory and makes it durable once afterwards (until then, a crash may leave the
   * old content).
   */
  syncDir?: boolean;
}

/**
 * Replaces the file at `path` so that a crash leaves either the old or the new content, never a
 * mix: write the temp file, make it durable, rename it over `path`, fsync the directory. A temp
 * file that cannot be written is removed. One writer per path at a time (the edge log holds its
 * lock; `roadlog edge passwd` and `roadlog kafka start` are run by hand).
 *
 * With nodeAtomicFs a replaced file keeps its mode and owner (the credentials file belongs to
 * the service user, and `sudo roadlog edge passwd` must not hand it to root); a new one is 0600.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string, options: WriteFileAtomicOptions = {}): Promise<void> {
  const fs = options.fs ?? nodeAtomicFs;
  const tmp = options.tmp ?? `${path}.tmp`;
  const exclusive = options.exclusive === true;
  const file = await fs.open(tmp, exclusive ? 'create-new' : 'append');
  try {
    if (!exclusive) await file.truncate(0);
    await file.append(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    await file.adoptOwnership?.(path);
    await file.datasync();
  } catch (err) {
    await file.close().catch(() => undefined);
    await fs.unlink(tmp).catch(() => undefined);
    throw err;
  }
  await file.close();
  await fs.rename(tmp, path);
  if (options.syncDir !== false) await fs.fsyncDir(dirname(path));
}

class NodeAtomicFile implements AtomicFile {
  constructor(private readonly fh: FileHandle) {}

  append(data: Uint8Array): Promise<void> {
    return this.fh.writeFile(data);
  }

  truncate(length: number): Promise<void> {
    return this.fh.truncate(length);
  }

  /**
   * A full fsync, not fdatasync: for a small new file it costs the same (the inode is written
   * either way), and the mode and owner set by adoptOwnership become durable with the bytes.
   */
  datasync(): Promise<void> {
    return this.fh.sync();
  }

  close(): Promise<void> {
    return this.fh.close();
  }

  async adoptOwnership(path: string): Promise<void> {
    const previous = await stat(path).catch(() => undefined);
    if (previous === undefined) return;
    await this.fh.chmod(previous.mode & 0o7777);
    if (process.getuid?.() === 0) await this.fh.chown(previous.uid, previous.gid);
  }
}

const FLAGS = {
  append: constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT,
  'create-new': constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_EXCL,
} as const;

/** The real file system: new files are created 0600. */
export const nodeAtomicFs: AtomicFs = {
  async open(path, mode) {
    return new NodeAtomicFile(await open(path, FLAGS[mode], 0o600));
  },
  rename: (from, to) => rename(from, to),
  unlink: (path) => unlink(path),
  async fsyncDir(dir) {
    const fh = await open(dir, constants.O_RDONLY);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
};
