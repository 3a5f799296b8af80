/**
 * Errors are data: a small set of stable codes, each with one HTTP status. The API maps them to
 * `{error: {code, message, details?}}`, the SDK turns that JSON back into a SwitchyardError, and
 * the CLI turns the code into an exit status. Add a code here, never a bare string elsewhere.
 */
export const errorCodes = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unmatchable: 422,
  /** A WebSocket route asked for with a plain request. */
  upgrade_required: 426,
  frozen: 503,
  unavailable: 503,
  /** The broker's store cannot read or write (disk full, read-only, database unreachable). */
  store_unavailable: 503,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof errorCodes;

export class SwitchyardError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'SwitchyardError';
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return errorCodes[this.code];
  }

  toJSON(): { error: { code: ErrorCode; message: string; details?: unknown } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(errorCodes, value);
}

export const invalid = (message: string, details?: unknown): SwitchyardError =>
  new SwitchyardError('invalid_request', message, details);

export const notFound = (what: string, id: string): SwitchyardError =>
  new SwitchyardError('not_found', `${what} ${id} does not exist`);

/**
 * The broker could not start: a port in use, a data directory or database it cannot use, a
 * store it cannot reach or a schema too new for it. Not a wire error (no code, no HTTP status):
 * the message is one line that says what is wrong and what to do, and the CLI exits with a
 * status of its own for it. `cause` keeps the error underneath.
 */
export class StartupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StartupError';
  }
}
