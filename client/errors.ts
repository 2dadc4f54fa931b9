// The client's two errors, each with a stable `code` to match on (never the message): the edge
// refused something (ProblemError, carrying its RFC 9457 problem as data), or the client itself
// gave up on a request (ClientError).
import type { Problem } from "./frames.ts";

/** The edge answered a publish or subscribe with a problem frame (the same `type` URIs as HTTPS). */
export class ProblemError extends Error {
  override readonly name = "ProblemError";
  readonly code = "PROBLEM";
  constructor(readonly problem: Problem) {
    super(`${problem.title}: ${problem.detail}`);
  }
}

export const CLIENT_ERROR_CODES = {
  /** close() was called, or the edge closed for good (1000, or 1009 for a frame too large). */
  CLOSED: "CLOSED",
  /** The publish frame is larger than the edge's `maxFrameBytes`; it was never sent. */
  FRAME_TOO_LARGE: "FRAME_TOO_LARGE",
} as const;

export type ClientErrorCode = keyof typeof CLIENT_ERROR_CODES;

export class ClientError extends Error {
  override readonly name = "ClientError";
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
