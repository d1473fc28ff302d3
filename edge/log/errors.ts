import { RoadlogError } from '../../shared/errors/index.js';
import { errnoCode } from './file-layer.js';

/**
 * An OS error from the edge log's files as the code users see (in /status, `roadlog edge
 * status`, the failure metrics), never the raw errno: ENOSPC and EDQUOT are
 * ROADLOG_ERR_LOG_FULL, any other errno ROADLOG_ERR_LOG_IO; the errno stays in the message and
 * in `details.errno`. Anything else (a RoadlogError already, a bug) is returned unchanged.
 */
/** The disk (or the user's filesystem quota) has no room: the full-disk policy applies. */
export function isDiskFull(err: unknown): boolean {
  const errno = errnoCode(err);
  return errno === 'ENOSPC' || errno === 'EDQUOT';
}

export function asLogError(err: unknown, what: string): unknown {
  const errno = err instanceof RoadlogError ? undefined : errnoCode(err);
  if (errno === undefined) return err;
  return new RoadlogError(isDiskFull(err) ? 'ROADLOG_ERR_LOG_FULL' : 'ROADLOG_ERR_LOG_IO', `${what}: ${(err as Error).message}`, { cause: err, details: { errno } });
}
