import { ERROR_CODES, type ErrorCode } from './codes.js';

export interface RoadlogErrorOptions {
  cause?: unknown;
  /** Structured facts for logs and tests (field path, topic name, ...). */
  details?: Record<string, unknown>;
}

/** The one error type roadlog throws on purpose. Branch on `code`. */
export class RoadlogError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly exitCode: number;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: RoadlogErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RoadlogError';
    this.code = code;
    this.retriable = ERROR_CODES[code].retriable;
    this.exitCode = ERROR_CODES[code].exitCode;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }
}

export function isRoadlogError(err: unknown, code?: ErrorCode): err is RoadlogError {
  return err instanceof RoadlogError && (code === undefined || err.code === code);
}
