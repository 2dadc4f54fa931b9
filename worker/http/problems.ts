// The one place where the edge turns errors into responses: RFC 9457 problem details
// (`application/problem+json`), each kind with a stable `type` URI that clients and tests match on.
// Handlers throw EdgeError (or return a Problem for per-event batch results); nothing else builds
// an error body. A kind is a code like every error code in Jetgate (SCREAMING_SNAKE, e.g.
// PAYLOAD_TOO_LARGE); its `type` URI ends in the same words in kebab case (…/payload-too-large),
// as the admin API's catalogue does (bridge/admin/problems.ts).

export const PROBLEM_BASE = "https://jetgate.dev/problems/";
export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** Every kind of failure the edge answers, with its HTTP status and RFC 9457 `title`. */
export const PROBLEM_KINDS = {
  MALFORMED_JSON: { status: 400, title: "The body is not valid JSON" },
  JSON_TOO_DEEP: { status: 400, title: "The JSON nests deeper than allowed" },
  MISSING_ATTRIBUTE: { status: 400, title: "A required CloudEvents attribute is missing" },
  INVALID_ATTRIBUTE: { status: 400, title: "A CloudEvents attribute has an invalid value" },
  INVALID_BATCH: { status: 400, title: "The batch is not a JSON array of CloudEvents" },
  MALFORMED_REQUEST: { status: 400, title: "The request is not valid HTTP/1.1" },
  INVALID_TOKEN_REQUEST: { status: 400, title: "The browser token request is not valid" },
  MALFORMED_FRAME: { status: 400, title: "The WebSocket frame is not a valid request" },
  UNAUTHORIZED: { status: 401, title: "A valid API key is required" },
  TOKEN_INVALID: { status: 401, title: "The browser token is malformed or not signed by this edge" },
  TOKEN_EXPIRED: { status: 401, title: "The browser token has expired" },
  FORBIDDEN_TYPE: { status: 403, title: "The API key may not publish this event type" },
  FORBIDDEN_SCOPE: { status: 403, title: "The request asks for more than the API key's scope" },
  TOKEN_ORIGIN_MISMATCH: { status: 403, title: "The browser token is not for this Origin" },
  ORIGIN_NOT_ALLOWED: { status: 403, title: "The Origin is not allowed to open a WebSocket here" },
  NOT_FOUND: { status: 404, title: "No such route" },
  UNKNOWN_TYPE: { status: 404, title: "The event type is not registered" },
  UNKNOWN_SCHEMA_VERSION: { status: 404, title: "The schema version is not registered" },
  UNKNOWN_SUBSCRIPTION: { status: 404, title: "No subscription of this socket has that rid" },
  METHOD_NOT_ALLOWED: { status: 405, title: "Method not allowed" },
  PAYLOAD_TOO_LARGE: { status: 413, title: "The body is larger than allowed" },
  BATCH_TOO_LARGE: { status: 413, title: "The batch holds more events than allowed" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: "The Content-Type is not accepted here" },
  UNSUPPORTED_DATACONTENTTYPE: { status: 415, title: "The event's datacontenttype is not JSON" },
  UPGRADE_REQUIRED: { status: 426, title: "This route speaks WebSocket only" },
  SCHEMA_VALIDATION: { status: 422, title: "The event data does not match its schema" },
  BATCH_REJECTED: { status: 422, title: "No event of the batch was accepted" },
  RATE_LIMITED: { status: 429, title: "Too many requests for this API key" },
  BACKPRESSURE: { status: 429, title: "Too many publishes on this socket await their ack" },
  HEADERS_TOO_LARGE: { status: 431, title: "The request headers are larger than allowed" },
  INTERNAL: { status: 500, title: "Internal error" },
  BROKER_UNAVAILABLE: { status: 503, title: "The event broker is unreachable" },
  PUBLISH_TIMEOUT: { status: 503, title: "The event broker did not confirm in time" },
  TOKENS_NOT_CONFIGURED: { status: 503, title: "Browser tokens are not configured on this edge" },
} as const;

export type ProblemKind = keyof typeof PROBLEM_KINDS;

/**
 * A schema failure as the client sees it, from ajv's error: where (`instancePath`) and which rule
 * failed (`keyword`), which clients can match on, and ajv's sentence about it (`message`), which is
 * for people and may change with ajv's version. ajv's `params` are not passed on.
 */
export interface ProblemSchemaError {
  instancePath: string;
  keyword: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** Extension members (RFC 9457 §3.2), e.g. `errors` for schema failures. */
  [extension: string]: unknown;
}

/** `PAYLOAD_TOO_LARGE` → https://jetgate.dev/problems/payload-too-large */
export function problemType(kind: ProblemKind): string {
  return PROBLEM_BASE + kind.toLowerCase().replaceAll("_", "-");
}

export function makeProblem(kind: ProblemKind, detail: string, extensions: Record<string, unknown> = {}): Problem {
  const { status, title } = PROBLEM_KINDS[kind];
  return { type: problemType(kind), title, status, detail, ...extensions };
}

/**
 * The edge's one error class: a stable `code` (the problem kind), the detail shown to the
 * client, extension members, and response headers (Retry-After on 429/503).
 */
export class EdgeError extends Error {
  override readonly name = "EdgeError";
  constructor(
    readonly code: ProblemKind,
    readonly detail: string,
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${detail}`, options);
  }

  get status(): number {
    return PROBLEM_KINDS[this.code].status;
  }

  toProblem(): Problem {
    return makeProblem(this.code, this.detail, this.extensions);
  }
}

export function problemResponse(problem: Problem, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: { "content-type": PROBLEM_CONTENT_TYPE, ...headers },
  });
}

/** Maps anything thrown in a handler to a problem response; unknown errors become a bare 500. */
export function errorToResponse(err: unknown): Response {
  if (err instanceof EdgeError) return problemResponse(err.toProblem(), err.headers);
  return problemResponse(makeProblem("INTERNAL", "the edge failed to handle the request"));
}
