// Errors of the bridge room, each with a stable code that the admin API, the CLI and tests match
// on. Admin API responses map them to RFC 9457 problem+json in admin/api.ts (the one place).
export type BridgeErrorCode =
  | "CONFIG_INVALID"
  | "SUBSCRIPTION_INVALID"
  | "SUBSCRIPTION_NOT_FOUND"
  | "SUBSCRIPTION_EXISTS"
  | "SSRF_REFUSED"
  | "DLQ_NOT_FOUND"
  | "REQUEST_INVALID"
  | "BODY_TOO_LARGE"
  | "UNAUTHORIZED"
  | "ADMIN_DISABLED"
  | "FILE_INVALID"
  | "NOT_READY";

/** HTTP status for each code, used by the admin API's single error handler. */
export const ERROR_STATUS: Record<BridgeErrorCode, number> = {
  CONFIG_INVALID: 500,
  SUBSCRIPTION_INVALID: 422,
  SUBSCRIPTION_NOT_FOUND: 404,
  SUBSCRIPTION_EXISTS: 409,
  SSRF_REFUSED: 422,
  DLQ_NOT_FOUND: 404,
  REQUEST_INVALID: 400,
  BODY_TOO_LARGE: 413,
  UNAUTHORIZED: 401,
  ADMIN_DISABLED: 503,
  FILE_INVALID: 422,
  NOT_READY: 503,
};

export class BridgeError extends Error {
  override readonly name = "BridgeError";
  constructor(
    readonly code: BridgeErrorCode,
    message: string,
    readonly data: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
