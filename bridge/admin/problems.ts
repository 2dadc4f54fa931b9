// The one place where the admin API turns errors into responses: RFC 9457 problem details
// (`application/problem+json`), one kind per BridgeErrorCode (plus a missing route and an internal
// failure), each with its status, a stable human `title`, and a `type` URI under the bridge's own
// base, so no admin type is ever an edge type (worker/http/problems.ts) with another title. The
// code travels too, as the `code` extension member (RFC 9457 §3.2) that clients and tests match on.
// Handlers throw BridgeError; nothing else builds an error body.
import type { Context } from "hono";
import type { Logger } from "pino";
import { BridgeError, type BridgeErrorCode } from "../errors.ts";

export const PROBLEM_BASE = "https://jetgate.dev/problems/bridge/";
export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** What the admin API answers besides the bridge's own error codes. */
export type AdminProblemCode = BridgeErrorCode | "NOT_FOUND" | "INTERNAL";

/** Every kind of failure the admin API answers, with its HTTP status and RFC 9457 `title`. */
export const ADMIN_PROBLEMS: Record<AdminProblemCode, { status: number; title: string }> = {
  REQUEST_INVALID: { status: 400, title: "The request is not valid" },
  UNAUTHORIZED: { status: 401, title: "A valid bearer token is required" },
  NOT_FOUND: { status: 404, title: "No such route" },
  SUBSCRIPTION_NOT_FOUND: { status: 404, title: "No such subscription" },
  DLQ_NOT_FOUND: { status: 404, title: "No such dead letter" },
  SUBSCRIPTION_EXISTS: { status: 409, title: "A subscription with this id exists already" },
  SUBSCRIPTION_CONFLICT: { status: 409, title: "The subscription kept changing while it was being updated" },
  BODY_TOO_LARGE: { status: 413, title: "The body is larger than allowed" },
  SUBSCRIPTION_INVALID: { status: 422, title: "The subscription is not valid" },
  SSRF_REFUSED: { status: 422, title: "The bridge does not deliver to this URL" },
  FILE_INVALID: { status: 422, title: "The subscriptions file is not valid" },
  PINNED_VERSION_UNKNOWN: { status: 422, title: "The registry has no such version to pin" },
  CONFIG_INVALID: { status: 500, title: "The bridge's configuration is not valid" },
  INTERNAL: { status: 500, title: "Internal error" },
  ADMIN_DISABLED: { status: 503, title: "The admin API is switched off" },
  NOT_READY: { status: 503, title: "The bridge or its broker is not ready" },
  REGISTRY_UNAVAILABLE: { status: 503, title: "The registry build cannot be loaded" },
};

/** What a 500 tells the client; the error itself, with its cause, goes to the bridge's log. */
const INTERNAL_DETAIL = "the bridge failed to handle the request; the cause is in its log";

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: AdminProblemCode;
  /** Extension members (RFC 9457 §3.2), e.g. `errors` for an invalid subscription. */
  [extension: string]: unknown;
}

/** `SUBSCRIPTION_NOT_FOUND` → https://jetgate.dev/problems/bridge/subscription-not-found */
export function problemType(code: AdminProblemCode): string {
  return PROBLEM_BASE + code.toLowerCase().replaceAll("_", "-");
}

export function makeProblem(code: AdminProblemCode, detail: string, extensions: Record<string, unknown> = {}): Problem {
  const { status, title } = ADMIN_PROBLEMS[code];
  // Extensions first: they may never replace a member RFC 9457 defines, nor the code.
  return { ...extensions, type: problemType(code), title, status, detail, code };
}

/**
 * Maps anything a handler threw to a problem. A BridgeError answers with its code, message and
 * data, except a 500, whose message may hold internals (a NATS subject, a server's text): that
 * answers with a generic detail and is logged with its cause, as is every error of unknown kind.
 */
export function errorToProblem(err: unknown, log: Logger, where: Record<string, unknown> = {}): Problem {
  if (err instanceof BridgeError && ADMIN_PROBLEMS[err.code].status !== 500) return makeProblem(err.code, err.message, err.data);
  log.error({ ...where, err }, "admin request failed");
  return makeProblem(err instanceof BridgeError ? err.code : "INTERNAL", INTERNAL_DETAIL);
}

export function problemResponse(problem: Problem): Response {
  return new Response(JSON.stringify(problem), { status: problem.status, headers: { "content-type": PROBLEM_CONTENT_TYPE } });
}

/** Sends a problem through Hono's context, so headers set before the error (WWW-Authenticate) go with it. */
export function sendProblem(c: Context, problem: Problem): Response {
  return c.body(JSON.stringify(problem), problem.status as 400, { "content-type": PROBLEM_CONTENT_TYPE });
}
