// Errors for programmer and environment failures (bad usage, unreadable repository, a registry that
// `check` rejects). Findings about schemas are data (see check/findings.ts), never exceptions.
// Each class carries a stable `code` for tests and an `exitCode` that cli/exit-codes.ts gives the process.

export type RegistryErrorCode =
  | "USAGE"
  | "NOT_A_REPOSITORY"
  | "REF_NOT_FOUND"
  | "TYPE_NOT_FOUND"
  | "VERSION_NOT_FOUND"
  | "CHECK_FAILED";

export class RegistryError extends Error {
  override name = "RegistryError";
  readonly code: RegistryErrorCode;
  readonly exitCode: number;
  readonly data: Record<string, unknown>;

  constructor(code: RegistryErrorCode, message: string, options: { exitCode?: number; data?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.exitCode = options.exitCode ?? 2;
    this.data = options.data ?? {};
  }
}

export class UsageError extends RegistryError {
  override name = "UsageError";
  constructor(message: string) {
    super("USAGE", message);
  }
}

export class RefNotFoundError extends RegistryError {
  override name = "RefNotFoundError";
  constructor(ref: string, cause?: unknown) {
    super("REF_NOT_FOUND", `git ref "${ref}" was not found (a branch, tag, remote branch or commit is expected)`, { data: { ref }, cause });
  }
}

export class NotARepositoryError extends RegistryError {
  override name = "NotARepositoryError";
  constructor(dir: string, cause?: unknown) {
    super("NOT_A_REPOSITORY", `${dir} is not inside a git repository`, { data: { dir }, cause });
  }
}

/** `build` refuses a registry that `check` rejects; the findings travel in `data.report`. */
export class CheckFailedError extends RegistryError {
  override name = "CheckFailedError";
  constructor(errors: number, data: Record<string, unknown>) {
    super("CHECK_FAILED", `registry check found ${errors} error(s); fix them before building (run: jetgate registry check)`, { exitCode: 1, data });
  }
}
