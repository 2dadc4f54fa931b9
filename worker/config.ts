// The edge's settings, parsed and checked once at start from string vars (wrangler.toml `[vars]`
// and secrets on workerd; options or environment on Node). Every default is named here and only
// here: the vars' (DEFAULTS) and those of `jetgate edge` on Node (NODE_EDGE_DEFAULTS). wrangler.toml
// declares only the var that has none, NATS_WS_URLS (test/edge/config.test.ts keeps it so); the
// docs/operators.md ("Limits and vars") lists the same names. Runtime-neutral: bundled for workerd too.
import { parseApiKeys, type ApiKeyEntry } from "./auth/keys.ts";

export const DEFAULTS = {
  /** Publisher Durable Objects; subjects are spread over them by hash (per-type order kept). */
  PUBLISHER_SHARDS: 4,
  /** How long a publish may wait for the JetStream ack before the edge answers 503. */
  PUBLISH_TIMEOUT_MS: 5_000,
  /** Retry-After (seconds) sent with 503 answers. */
  RETRY_AFTER_SECONDS: 2,
  /** One event's body (binary, structured, plain JSON route). */
  MAX_EVENT_BYTES: 1024 * 1024,
  /** A whole batch body. */
  MAX_BATCH_BYTES: 10 * 1024 * 1024,
  MAX_BATCH_EVENTS: 1000,
  /** Sum of header names and values; Node's own parser stops at 16 KiB, so stay below it. */
  MAX_HEADER_BYTES: 8 * 1024,
  MAX_JSON_DEPTH: 64,
  /** Per API key token bucket; 0 turns the limit off. A key entry may override both. */
  RATE_LIMIT_PER_SECOND: 1_000,
  RATE_LIMIT_BURST: 2_000,
  /** Comma-separated origins allowed to POST from browsers; empty means no CORS. */
  CORS_ORIGINS: "",
  /** One JSON log line per request. */
  LOG_REQUESTS: true,
  /** WebSocket (GET /v1/ws): publishes one socket may have awaiting their JetStream ack; the next gets a `backpressure` problem. */
  WS_MAX_IN_FLIGHT: 256,
  /** WebSocket: bytes waiting to be sent to one socket before it is closed as a slow consumer (1013). */
  WS_MAX_BUFFERED_BYTES: 4 * 1024 * 1024,
  /** workerd: Durable Objects the browser sockets are spread over (each holds its sockets and one NATS connection). */
  SOCKET_HUB_SHARDS: 4,
  /**
   * GET /demo, a page that publishes and subscribes over GET /v1/ws with the dev API key prefilled:
   * for the local stack only (it turns it on), never on a deployed edge.
   */
  DEMO_PAGE: false,
} as const;

/** `jetgate edge`, the edge on Node, unless its options say otherwise. */
export const NODE_EDGE_DEFAULTS = {
  port: 8787,
  host: "127.0.0.1",
  /** NATS_URLS when unset: the local stack's 3-node cluster (`npm start`). */
  natsUrls: "nats://127.0.0.1:4222,nats://127.0.0.1:4223,nats://127.0.0.1:4224",
} as const;

/**
 * Browser tokens (POST /v1/tokens, worker/auth/browser-tokens.ts). Fixed by the contract, not vars:
 * a token lives 10 minutes unless the request asks for less or more, never past an hour.
 */
export const TOKEN_LIMITS = {
  DEFAULT_TTL_SECONDS: 600,
  MAX_TTL_SECONDS: 3_600,
  /** TOKEN_SECRET's least length in UTF-8 bytes: HMAC-SHA256's own output size (RFC 2104 §3). */
  SECRET_MIN_BYTES: 32,
  /** A token request is a few fields; anything larger is refused unread. */
  MAX_REQUEST_BYTES: 8 * 1024,
} as const;

/**
 * The secret browser tokens are signed with (HMAC-SHA256): a secret like API_KEYS
 * (`wrangler secret put TOKEN_SECRET`; the environment on Node), never in wrangler.toml. Unset, the
 * edge mints no tokens (POST /v1/tokens answers 503 naming it).
 */
export const TOKEN_SECRET_VAR = "TOKEN_SECRET";

export interface EdgeConfig {
  natsUrls: string[];
  publisherShards: number;
  publishTimeoutMs: number;
  retryAfterSeconds: number;
  maxEventBytes: number;
  maxBatchBytes: number;
  maxBatchEvents: number;
  maxHeaderBytes: number;
  maxJsonDepth: number;
  rateLimitPerSecond: number;
  rateLimitBurst: number;
  corsOrigins: string[];
  logRequests: boolean;
  wsMaxInFlight: number;
  wsMaxBufferedBytes: number;
  socketHubShards: number;
  /** DEMO_PAGE: GET /demo is served. */
  demoPage: boolean;
  apiKeys: ApiKeyEntry[];
  /** How the publisher authenticates to NATS: NATS_USER + NATS_PASS, or NATS_TOKEN (secrets). */
  natsAuth: NatsAuth;
  /** TOKEN_SECRET, or undefined when the operator set none (no browser tokens). */
  tokenSecret?: string;
}

type NatsAuth = { user: string; pass: string } | { token: string } | Record<string, never>;

/** The NATS login: secrets, never in wrangler.toml (`wrangler secret put NATS_PASS`; the environment on Node). */
export const NATS_SECRET_VARS = ["NATS_USER", "NATS_PASS", "NATS_TOKEN"] as const;

function natsAuthOf(vars: EdgeVars, problems: string[]): NatsAuth {
  const { NATS_USER: user, NATS_PASS: pass, NATS_TOKEN: token } = vars;
  if (token && (user || pass)) problems.push("set NATS_TOKEN or NATS_USER + NATS_PASS, not both");
  if (token) return { token };
  if (user && pass) return { user, pass };
  if (user || pass) problems.push("NATS_USER and NATS_PASS go together");
  return {};
}

function tokenSecretOf(vars: EdgeVars, problems: string[]): string | undefined {
  const secret = vars[TOKEN_SECRET_VAR];
  if (secret === undefined || secret === "") return undefined;
  const bytes = new TextEncoder().encode(secret).length;
  if (bytes < TOKEN_LIMITS.SECRET_MIN_BYTES) {
    problems.push(`${TOKEN_SECRET_VAR} must be at least ${TOKEN_LIMITS.SECRET_MIN_BYTES} bytes, got ${bytes}`);
    return undefined;
  }
  return secret;
}

/** The vars as strings, exactly as wrangler or the environment hands them over. */
export type EdgeVars = Partial<Record<string, string | undefined>>;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly code = "CONFIG_INVALID";
  constructor(readonly problems: string[]) {
    super(`invalid edge configuration: ${problems.join("; ")}`);
  }
}

function int(vars: EdgeVars, name: keyof typeof DEFAULTS, problems: string[], min = 0): number {
  const raw = vars[name];
  const fallback = DEFAULTS[name] as number;
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    problems.push(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
    return fallback;
  }
  return value;
}

/** A true/false var: unset or empty is the default, "false" and "0" are false, anything else true. */
function flag(vars: EdgeVars, name: "LOG_REQUESTS" | "DEMO_PAGE"): boolean {
  const raw = (vars[name] ?? "").toLowerCase();
  return raw === "" ? DEFAULTS[name] : raw !== "false" && raw !== "0";
}

function list(raw: string | undefined): string[] {
  return (raw ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * Parses the vars. `natsUrlsVar` names the var holding the broker URLs: NATS_WS_URLS on workerd
 * (ws:// or wss://), NATS_URLS on Node (nats://).
 */
export function parseConfig(vars: EdgeVars, natsUrlsVar: "NATS_WS_URLS" | "NATS_URLS" = "NATS_WS_URLS"): EdgeConfig {
  const problems: string[] = [];
  const natsUrls = list(vars[natsUrlsVar]);
  if (natsUrls.length === 0) problems.push(`${natsUrlsVar} must list at least one broker URL`);
  let apiKeys: ApiKeyEntry[] = [];
  try {
    apiKeys = parseApiKeys(vars.API_KEYS ?? "[]");
  } catch (err) {
    problems.push(`API_KEYS: ${err instanceof Error ? err.message : String(err)}`);
  }
  const config: EdgeConfig = {
    natsUrls,
    publisherShards: int(vars, "PUBLISHER_SHARDS", problems, 1),
    publishTimeoutMs: int(vars, "PUBLISH_TIMEOUT_MS", problems, 1),
    retryAfterSeconds: int(vars, "RETRY_AFTER_SECONDS", problems, 1),
    maxEventBytes: int(vars, "MAX_EVENT_BYTES", problems, 1),
    maxBatchBytes: int(vars, "MAX_BATCH_BYTES", problems, 1),
    maxBatchEvents: int(vars, "MAX_BATCH_EVENTS", problems, 1),
    maxHeaderBytes: int(vars, "MAX_HEADER_BYTES", problems, 1),
    maxJsonDepth: int(vars, "MAX_JSON_DEPTH", problems, 1),
    rateLimitPerSecond: int(vars, "RATE_LIMIT_PER_SECOND", problems),
    rateLimitBurst: int(vars, "RATE_LIMIT_BURST", problems),
    corsOrigins: list(vars.CORS_ORIGINS ?? DEFAULTS.CORS_ORIGINS),
    logRequests: flag(vars, "LOG_REQUESTS"),
    wsMaxInFlight: int(vars, "WS_MAX_IN_FLIGHT", problems, 1),
    wsMaxBufferedBytes: int(vars, "WS_MAX_BUFFERED_BYTES", problems, 1),
    socketHubShards: int(vars, "SOCKET_HUB_SHARDS", problems, 1),
    demoPage: flag(vars, "DEMO_PAGE"),
    apiKeys,
    natsAuth: natsAuthOf(vars, problems),
  };
  const tokenSecret = tokenSecretOf(vars, problems);
  if (tokenSecret !== undefined) config.tokenSecret = tokenSecret;
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
