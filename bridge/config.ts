// Every bridge setting, its default and its environment variable, in one place (like svix's
// config.default.toml). `loadBridgeConfig(env, overrides)` reads JETGATE_BRIDGE_* variables,
// applies overrides given in code, and checks the result once; the service and the CLI never read
// those variables anywhere else (the CLI hands its flags to a bridge process through bridgeEnv).
import { hostname } from "node:os";
import { BridgeError } from "./errors.ts";
import { parseDuration } from "./duration.ts";
import { parseAllowList } from "./delivery/ssrf.ts";

export interface BridgeConfig {
  /** NATS servers to connect to (JETGATE_BRIDGE_NATS_SERVERS, comma separated). */
  servers: string[];
  /**
   * NATS login: JETGATE_BRIDGE_NATS_USER + JETGATE_BRIDGE_NATS_PASS, or JETGATE_BRIDGE_NATS_TOKEN;
   * unset for a broker without auth. (The NATS client ignores user:pass in a server URL.)
   */
  natsUser: string | undefined;
  natsPass: string | undefined;
  natsToken: string | undefined;
  /** Admin API / metrics listen address (JETGATE_BRIDGE_HOST, JETGATE_BRIDGE_PORT; port 0 = any free port). */
  host: string;
  port: number;
  /** Bearer token for the admin API (JETGATE_BRIDGE_ADMIN_TOKEN). Unset: admin routes answer 503. */
  adminToken: string | undefined;
  /** Addresses or CIDRs that the SSRF guard lets through although private/loopback (JETGATE_BRIDGE_SSRF_ALLOW). */
  ssrfAllow: string[];
  /** Refuse http:// subscription URLs (JETGATE_BRIDGE_HTTPS_ONLY=true); switch on in production. */
  httpsOnly: boolean;
  /** User-Agent of every delivery (JETGATE_BRIDGE_USER_AGENT). */
  userAgent: string;
  /** Record every attempt in the JETGATE_ATTEMPTS stream (JETGATE_BRIDGE_ATTEMPT_LOG). */
  attemptLog: boolean;
  /** How long attempt records are kept (JETGATE_BRIDGE_ATTEMPT_LOG_MAX_AGE). */
  attemptLogMaxAgeMs: number;
  /** How long redrive/replay copies are kept (JETGATE_BRIDGE_REDRIVE_MAX_AGE). */
  redriveMaxAgeMs: number;
  /** Disable a subscription that has failed without a success for this long (JETGATE_BRIDGE_AUTO_DISABLE_AFTER; 0 = never). */
  autoDisableAfterMs: number;
  /** …and at least this many failures in a row seen by one instance (JETGATE_BRIDGE_AUTO_DISABLE_MIN_FAILURES). */
  autoDisableMinFailures: number;
  /** Longest Retry-After the bridge honours (JETGATE_BRIDGE_MAX_RETRY_AFTER). */
  maxRetryAfterMs: number;
  /** Deadline for in-flight deliveries at shutdown; the rest are nak'ed (JETGATE_BRIDGE_SHUTDOWN_DEADLINE). */
  shutdownDeadlineMs: number;
  /**
   * How long start-up waits for JetStream leaders (meta group, streams, KV buckets, consumers)
   * after a cluster restart before it fails naming the resource (JETGATE_BRIDGE_READY_DEADLINE).
   */
  readyDeadlineMs: number;
  /** Keep-alive connections per receiver origin (JETGATE_BRIDGE_CONNECTIONS_PER_ORIGIN). */
  connectionsPerOrigin: number;
  /**
   * Deliveries this instance holds at once across all unordered subscriptions
   * (JETGATE_BRIDGE_MAX_IN_FLIGHT); each subscription's own bound is its maxConcurrency.
   */
  maxInFlight: number;
  /**
   * How long a task held by an instance that died waits before another instance takes it: the
   * AckWait of the shared delivery durable (JETGATE_BRIDGE_TASK_ACK_WAIT). Longer requests keep
   * their task with working(); ordered subscriptions keep their own ackWait.
   */
  taskAckWaitMs: number;
  /** pino level (JETGATE_BRIDGE_LOG_LEVEL): trace, debug, info, warn, error, fatal, silent. */
  logLevel: string;
  /** Name of this instance in logs and attempt records (JETGATE_BRIDGE_INSTANCE). */
  instance: string;
  /**
   * Directory of the registry build (`jetgate registry build --out`, the edge's; JETGATE_BRIDGE_REGISTRY).
   * Pinned versions are shaped with it and reloaded when it is rebuilt; unset = no registry (a
   * pinned subscription's events are then dead-lettered as schema-mismatch).
   */
  registry: string | undefined;
}

export const BRIDGE_DEFAULTS: BridgeConfig = {
  servers: ["nats://127.0.0.1:4222"],
  natsUser: undefined,
  natsPass: undefined,
  natsToken: undefined,
  host: "127.0.0.1",
  port: 8790,
  adminToken: undefined,
  ssrfAllow: [],
  httpsOnly: false,
  userAgent: "Jetgate-Bridge/0.1 (+https://www.standardwebhooks.com)",
  attemptLog: true,
  attemptLogMaxAgeMs: 7 * 86_400_000,
  redriveMaxAgeMs: 7 * 86_400_000,
  // Svix disables an endpoint that has been failing for 5 days.
  autoDisableAfterMs: 5 * 86_400_000,
  autoDisableMinFailures: 5,
  maxRetryAfterMs: 24 * 3_600_000,
  shutdownDeadlineMs: 10_000,
  // A whole cluster restarted on its data took 5–20 s here to elect every leader (DESIGN.md decision 15).
  readyDeadlineMs: 90_000,
  connectionsPerOrigin: 256,
  maxInFlight: 4096,
  taskAckWaitMs: 30_000,
  logLevel: "info",
  instance: `${hostname()}-${process.pid}`,
  registry: undefined,
};

/** Each setting's environment variable, JETGATE_BRIDGE_ + this name. */
const ENV_PREFIX = "JETGATE_BRIDGE_";
const ENV_NAMES = {
  servers: "NATS_SERVERS",
  natsUser: "NATS_USER",
  natsPass: "NATS_PASS",
  natsToken: "NATS_TOKEN",
  host: "HOST",
  port: "PORT",
  adminToken: "ADMIN_TOKEN",
  ssrfAllow: "SSRF_ALLOW",
  httpsOnly: "HTTPS_ONLY",
  userAgent: "USER_AGENT",
  attemptLog: "ATTEMPT_LOG",
  attemptLogMaxAgeMs: "ATTEMPT_LOG_MAX_AGE",
  redriveMaxAgeMs: "REDRIVE_MAX_AGE",
  autoDisableAfterMs: "AUTO_DISABLE_AFTER",
  autoDisableMinFailures: "AUTO_DISABLE_MIN_FAILURES",
  maxRetryAfterMs: "MAX_RETRY_AFTER",
  shutdownDeadlineMs: "SHUTDOWN_DEADLINE",
  readyDeadlineMs: "READY_DEADLINE",
  connectionsPerOrigin: "CONNECTIONS_PER_ORIGIN",
  maxInFlight: "MAX_IN_FLIGHT",
  taskAckWaitMs: "TASK_ACK_WAIT",
  logLevel: "LOG_LEVEL",
  instance: "INSTANCE",
  registry: "REGISTRY",
} as const satisfies Record<keyof BridgeConfig, string>;

const LOG_LEVELS = new Set(["trace", "debug", "info", "warn", "error", "fatal", "silent"]);

function fail(field: string, message: string): never {
  throw new BridgeError("CONFIG_INVALID", `bridge config ${field}: ${message}`, { field });
}

function envValue(env: Record<string, string | undefined>, field: keyof BridgeConfig): string | undefined {
  const value = env[ENV_PREFIX + ENV_NAMES[field]];
  return value === undefined || value === "" ? undefined : value;
}

function list(value: string): string[] {
  return value.split(",").map((s) => s.trim()).filter(Boolean);
}

function bool(field: string, value: string): boolean {
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  return fail(field, `expected true or false, got ${JSON.stringify(value)}`);
}

function duration(field: string, value: string): number {
  const ms = parseDuration(value);
  return ms === null ? fail(field, `expected a duration like 5s or 10m, got ${JSON.stringify(value)}`) : ms;
}

function integer(field: string, value: string): number {
  const n = Number(value);
  return Number.isInteger(n) ? n : fail(field, `expected an integer, got ${JSON.stringify(value)}`);
}

/** Settings from JETGATE_BRIDGE_* variables, without defaults. */
export function configFromEnv(env: Record<string, string | undefined>): Partial<BridgeConfig> {
  const out: Partial<BridgeConfig> = {};
  const get = (field: keyof BridgeConfig) => envValue(env, field);
  let v: string | undefined;
  if ((v = get("servers"))) out.servers = list(v);
  if ((v = get("natsUser"))) out.natsUser = v;
  if ((v = get("natsPass"))) out.natsPass = v;
  if ((v = get("natsToken"))) out.natsToken = v;
  if ((v = get("host"))) out.host = v;
  if ((v = get("port"))) out.port = integer("port", v);
  if ((v = get("adminToken"))) out.adminToken = v;
  if ((v = get("ssrfAllow"))) out.ssrfAllow = list(v);
  if ((v = get("httpsOnly"))) out.httpsOnly = bool("httpsOnly", v);
  if ((v = get("userAgent"))) out.userAgent = v;
  if ((v = get("attemptLog"))) out.attemptLog = bool("attemptLog", v);
  if ((v = get("attemptLogMaxAgeMs"))) out.attemptLogMaxAgeMs = duration("attemptLogMaxAgeMs", v);
  if ((v = get("redriveMaxAgeMs"))) out.redriveMaxAgeMs = duration("redriveMaxAgeMs", v);
  if ((v = get("autoDisableAfterMs"))) out.autoDisableAfterMs = duration("autoDisableAfterMs", v);
  if ((v = get("autoDisableMinFailures"))) out.autoDisableMinFailures = integer("autoDisableMinFailures", v);
  if ((v = get("maxRetryAfterMs"))) out.maxRetryAfterMs = duration("maxRetryAfterMs", v);
  if ((v = get("shutdownDeadlineMs"))) out.shutdownDeadlineMs = duration("shutdownDeadlineMs", v);
  if ((v = get("readyDeadlineMs"))) out.readyDeadlineMs = duration("readyDeadlineMs", v);
  if ((v = get("connectionsPerOrigin"))) out.connectionsPerOrigin = integer("connectionsPerOrigin", v);
  if ((v = get("maxInFlight"))) out.maxInFlight = integer("maxInFlight", v);
  if ((v = get("taskAckWaitMs"))) out.taskAckWaitMs = duration("taskAckWaitMs", v);
  if ((v = get("logLevel"))) out.logLevel = v;
  if ((v = get("instance"))) out.instance = v;
  if ((v = get("registry"))) out.registry = v;
  return out;
}

/** The JETGATE_BRIDGE_* variables that hand `settings` to a bridge process (read back by configFromEnv). */
export function bridgeEnv(settings: Partial<BridgeConfig>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [field, value] of Object.entries(settings) as Array<[keyof BridgeConfig, unknown]>) {
    if (value === undefined) continue;
    env[ENV_PREFIX + ENV_NAMES[field]] = Array.isArray(value) ? value.join(",") : field.endsWith("Ms") ? `${value}ms` : String(value);
  }
  return env;
}

function hasCredentials(server: string): boolean {
  try {
    const url = new URL(server.includes("://") ? server : `nats://${server}`);
    return url.username !== "" || url.password !== "";
  } catch {
    return false;
  }
}

/** Checks a complete config; throws CONFIG_INVALID naming the first bad field. */
export function checkBridgeConfig(config: BridgeConfig): BridgeConfig {
  if (config.servers.length === 0) fail("servers", "at least one NATS server is needed");
  // Named by position only: the URL itself may carry a password, and this message is printed.
  config.servers.forEach((server, i) => {
    if (hasCredentials(server)) fail("servers", `server ${i + 1} has credentials in its URL, which the NATS client ignores; set JETGATE_BRIDGE_NATS_USER and JETGATE_BRIDGE_NATS_PASS`);
  });
  if (Boolean(config.natsUser) !== Boolean(config.natsPass)) fail("natsUser", "JETGATE_BRIDGE_NATS_USER and JETGATE_BRIDGE_NATS_PASS go together");
  if (config.natsToken && config.natsUser) fail("natsToken", "set JETGATE_BRIDGE_NATS_TOKEN or JETGATE_BRIDGE_NATS_USER + _PASS, not both");
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) fail("port", "must be 0..65535");
  if (config.adminToken !== undefined && config.adminToken.length < 8) fail("adminToken", "must be at least 8 characters");
  try {
    parseAllowList(config.ssrfAllow);
  } catch (err) {
    fail("ssrfAllow", (err as Error).message);
  }
  if (!LOG_LEVELS.has(config.logLevel)) fail("logLevel", `must be one of ${[...LOG_LEVELS].join(", ")}`);
  for (const field of ["attemptLogMaxAgeMs", "redriveMaxAgeMs", "maxRetryAfterMs", "shutdownDeadlineMs", "autoDisableAfterMs", "readyDeadlineMs"] as const) {
    if (!Number.isFinite(config[field]) || config[field] < 0) fail(field, "must be a non-negative duration");
  }
  if (config.attemptLogMaxAgeMs < 1000) fail("attemptLogMaxAgeMs", "must be at least 1s");
  if (config.redriveMaxAgeMs < 1000) fail("redriveMaxAgeMs", "must be at least 1s");
  if (!Number.isInteger(config.autoDisableMinFailures) || config.autoDisableMinFailures < 1) fail("autoDisableMinFailures", "must be ≥ 1");
  if (!Number.isInteger(config.connectionsPerOrigin) || config.connectionsPerOrigin < 1) fail("connectionsPerOrigin", "must be ≥ 1");
  if (!Number.isInteger(config.maxInFlight) || config.maxInFlight < 1) fail("maxInFlight", "must be ≥ 1");
  if (!(config.taskAckWaitMs >= 1000)) fail("taskAckWaitMs", "must be at least 1s");
  return config;
}

/** Defaults, then JETGATE_BRIDGE_* from `env`, then `overrides`; checked once. */
export function loadBridgeConfig(
  env: Record<string, string | undefined> = process.env,
  overrides: Partial<BridgeConfig> = {},
): BridgeConfig {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return checkBridgeConfig({ ...BRIDGE_DEFAULTS, ...configFromEnv(env), ...defined });
}
