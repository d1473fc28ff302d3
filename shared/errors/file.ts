import { resolve } from 'node:path';
import { RoadlogError } from './errors.js';

/** What a file system errno means to the person who gave the path. */
const REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EISDIR: 'is a directory, expected a file',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EIO: 'input/output error',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
};

/**
 * A file system failure on a path the user gave (a config setting or a command-line argument)
 * as a RoadlogError naming where the path came from:
 *   edge.dataDir /var/lib/roadlog: permission denied (EACCES, mkdir /var/lib/roadlog/log)
 * ENOENT is ROADLOG_ERR_FILE_NOT_FOUND, the other errnos above ROADLOG_ERR_FILE_ACCESS.
 * Anything else (a RoadlogError already, a bug) is returned unchanged: `throw asFileError(...)`.
 */
export function asFileError(err: unknown, setting: string, path: string): unknown {
  const e = err as Partial<NodeJS.ErrnoException> | undefined;
  const errno = typeof e?.code === 'string' && !(err instanceof RoadlogError) ? e.code : undefined;
  const reason = errno === undefined ? undefined : REASONS[errno];
  if (reason === undefined) return err;
  const inner = e?.syscall !== undefined && typeof e.path === 'string' && resolve(e.path) !== resolve(path) ? `, ${e.syscall} ${e.path}` : '';
  return new RoadlogError(errno === 'ENOENT' ? 'ROADLOG_ERR_FILE_NOT_FOUND' : 'ROADLOG_ERR_FILE_ACCESS', `${setting} ${path}: ${reason} (${errno}${inner})`, { cause: err, details: { setting, path, errno } });
}
