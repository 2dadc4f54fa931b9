// Errors of the bridge room, each with a stable code that the admin API, the CLI and tests match
// on. The admin API maps them to RFC 9457 problem+json in admin/problems.ts (the one place, with
// each code's status and title).
export type BridgeErrorCode =
  | "CONFIG_INVALID"
  | "SUBSCRIPTION_INVALID"
  | "SUBSCRIPTION_NOT_FOUND"
  | "SUBSCRIPTION_EXISTS"
  | "SUBSCRIPTION_CONFLICT"
  | "SSRF_REFUSED"
  | "DLQ_NOT_FOUND"
  | "REQUEST_INVALID"
  | "BODY_TOO_LARGE"
  | "UNAUTHORIZED"
  | "ADMIN_DISABLED"
  | "FILE_INVALID"
  | "NOT_READY"
  | "PINNED_VERSION_UNKNOWN"
  | "REGISTRY_UNAVAILABLE";

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
