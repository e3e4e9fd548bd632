/** Failures with a stable code, and how the chat puts them into words. */
import { ERROR_CODES, type ErrorCode } from './protocol.js';

/** Codes the client itself uses when a command fails without a server answer. */
export type ClientErrorCode = 'timeout' | 'disconnected' | 'closed' | 'network' | 'too_many_connections';
export type GraceErrorCode = ErrorCode | ClientErrorCode;

/** A failure with a stable code: the server's error code, or a client code (timeout, network…). */
export class GraceError extends Error {
  readonly code: GraceErrorCode;
  /** The HTTP status, for failures of REST calls. */
  readonly status: number | undefined;
  constructor(code: GraceErrorCode, message: string, status?: number) {
    super(message);
    this.name = 'GraceError';
    this.code = code;
    this.status = status;
  }
}

const SERVER_CODES = new Set<string>(ERROR_CODES);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && SERVER_CODES.has(value);
}

/** A failed command or call, in a sentence for the person. */
export function describeError(err: unknown): string {
  if (err instanceof GraceError) {
    switch (err.code) {
      case 'unavailable':
        return err.message || 'Not available on this server yet.';
      case 'timeout':
        return 'Grace did not answer in time. Try again.';
      case 'disconnected':
      case 'closed':
        return 'The connection dropped. Try again once it is back.';
      default:
        return err.message;
    }
  }
  return String(err);
}
