/**
 * The one backoff rule roadlog uses between retries of an operation that can succeed later
 * (a broker that is down, a leader election): capped exponential with full jitter.
 *
 *   delay(attempt) = random(0, min(maxMs, initialMs × factor^attempt))    attempt = 0, 1, 2, ...
 *
 * Full jitter spreads a thousand gateways that lost the same uplink so they do not come back
 * in lockstep. Never used for programmer errors: callers retry only `retriable` failures.
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor?: number;
  /** For tests: a random source in [0, 1). */
  random?: () => number;
}

export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * (options.factor ?? 2) ** Math.max(0, attempt));
  return Math.floor((options.random ?? Math.random)() * ceiling);
}
