// Errors of the broker room, each with a stable code that callers and tests match on.
export type BrokerErrorCode = "NOT_INSTALLED" | "SPAWN_FAILED" | "NOT_READY" | "EXITED" | "NO_SUCH_NODE" | "INSTALL_FAILED" | "INVALID_EVENT_TYPE";

export class BrokerError extends Error {
  override readonly name = "BrokerError";
  constructor(
    readonly code: BrokerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
