// The subscription model: what a subscriber asked for, normalized and validated. Input comes from
// YAML files and the admin API with human durations ("5s"); what is stored in KV is the normalized
// form in milliseconds. Validation failures are data (a list of {path, message}), not exceptions.
import { randomBytes } from "node:crypto";
import { ALL_EVENTS_SUBJECT, EVENTS_SUBJECT_PREFIX, isEventTypeSegment } from "../../broker/index.ts";
import { parseDuration } from "../duration.ts";
import { typesProblems } from "./selection.ts";
import { compileWhere } from "./where.ts";

export const SUBSCRIPTION_ID = /^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$/;

/** Svix's schedule: 5s, 5m, 30m, 2h, 5h, 10h, 10h (then give up), ±20% jitter. */
export const DEFAULT_SCHEDULE_MS = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];
export const DEFAULT_JITTER = 0.2;
/** Svix's default endpoint timeout. */
export const DEFAULT_TIMEOUT_MS = 15_000;
/** AckWait = timeout + this, so JetStream never redelivers an attempt that is still running. */
export const ACK_WAIT_MARGIN_MS = 10_000;
export const DEFAULT_MAX_CONCURRENCY = 64;
export const MAX_CONCURRENCY_LIMIT = 10_000;
export const MAX_WHERE_LENGTH = 4_096;
/** At most this many steps in `retry.schedule`. */
export const MAX_RETRY_STEPS = 100;

type StartAt =
  | { policy: "new" }
  | { policy: "all" }
  | { policy: "sequence"; sequence: number }
  | { policy: "time"; time: string };

interface SubscriptionSecret {
  secret: string;
  /** ISO time after which this secret no longer signs (set on the old secret during rotation). */
  notAfter?: string;
}

export interface Subscription {
  id: string;
  url: string;
  /**
   * Subject pattern under `events.` (`events.>`: everything). Absent when `types` is set: a
   * subscription selects by one or the other (selection.ts).
   */
  filter?: string;
  /** Type globs, each optionally pinned to a version (`order.*`, `order.created@1`; selection.ts). */
  types?: string[];
  /**
   * A CEL expression over the CloudEvent (attributes and `data`): only the events it is true for
   * are delivered (where.ts).
   */
  where?: string;
  secrets: SubscriptionSecret[];
  retry: { scheduleMs: number[]; jitter: number };
  timeoutMs: number;
  ackWaitMs: number;
  maxConcurrency: number;
  /** Deliveries per second for the subscription as a whole, across all bridge instances (delivery/shared-rate.ts); null = unlimited. */
  rateLimitPerSecond: number | null;
  /** One in flight, in stream order. */
  ordered: boolean;
  enabled: boolean;
  disabledReason?: string;
  disabledAt?: string;
  format: "structured" | "binary";
  startAt: StartAt;
  metadata: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  /**
   * The server time of the subscription's first revision in KV (written right after it by the
   * store): the fan-out gives it the events stored from then on, and a backfill those before that
   * its start position asks for (DESIGN decision 16). Absent until that second write lands, and on a subscription of the previous layout until
   * migration sets it (delivery/migrate.ts).
   */
  joinedAt?: string;
}

export interface FieldError {
  path: string;
  message: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

export function generateSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

/** A Standard Webhooks secret: `whsec_` + base64 of 16..64 random bytes. */
export function secretProblem(secret: unknown): string | null {
  if (typeof secret !== "string" || !secret.startsWith("whsec_")) return "must be a string starting with whsec_";
  const body = secret.slice("whsec_".length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) return "must be whsec_ followed by base64";
  const bytes = Buffer.from(body, "base64").length;
  if (bytes < 16 || bytes > 64) return `must carry 16 to 64 bytes of key (has ${bytes})`;
  return null;
}

export function filterProblem(filter: unknown): string | null {
  if (typeof filter !== "string") return "must be a subject pattern like events.> or events.order.*";
  if (!filter.startsWith(EVENTS_SUBJECT_PREFIX)) return "must start with events.";
  // The tokens after events. are type segments (the type grammar, one token each), * or a final >.
  const tokens = filter.slice(EVENTS_SUBJECT_PREFIX.length).split(".");
  for (const [i, token] of tokens.entries()) {
    if (token === ">" && i === tokens.length - 1) continue;
    if (token === "*" || isEventTypeSegment(token)) continue;
    return `token ${JSON.stringify(token)} is not an event-type token, * or a final >`;
  }
  return null;
}

/** Secrets that sign right now (Standard Webhooks: one v1 signature per live secret). */
export function liveSecrets(sub: Pick<Subscription, "secrets">, now = Date.now()): string[] {
  return sub.secrets.filter((s) => !s.notAfter || Date.parse(s.notAfter) > now).map((s) => s.secret);
}

export function maxAttempts(sub: Pick<Subscription, "retry">): number {
  return sub.retry.scheduleMs.length + 1;
}

class Collector {
  errors: FieldError[] = [];
  add(path: string, message: string): void {
    this.errors.push({ path, message });
  }
}

function parseSecrets(input: Record<string, unknown>, c: Collector): SubscriptionSecret[] {
  const raw = input.secrets ?? (input.secret === undefined ? undefined : [input.secret]);
  if (raw === undefined) return [{ secret: generateSecret() }];
  if (!Array.isArray(raw) || raw.length === 0) {
    c.add("secrets", "must be a non-empty list");
    return [];
  }
  return raw.map((entry, i) => {
    const secret = typeof entry === "object" && entry !== null ? (entry as Record<string, unknown>).secret : entry;
    const notAfter = typeof entry === "object" && entry !== null ? (entry as Record<string, unknown>).notAfter : undefined;
    const problem = secretProblem(secret);
    if (problem) c.add(`secrets[${i}]`, problem);
    if (notAfter !== undefined && (typeof notAfter !== "string" || Number.isNaN(Date.parse(notAfter)))) {
      c.add(`secrets[${i}].notAfter`, "must be an ISO time");
    }
    return notAfter === undefined ? { secret: String(secret) } : { secret: String(secret), notAfter: String(notAfter) };
  });
}

function parseRetry(input: unknown, c: Collector): Subscription["retry"] {
  if (input === undefined) return { scheduleMs: [...DEFAULT_SCHEDULE_MS], jitter: DEFAULT_JITTER };
  if (typeof input !== "object" || input === null) {
    c.add("retry", "must be an object {schedule, jitter}");
    return { scheduleMs: [], jitter: 0 };
  }
  const { schedule, jitter } = input as Record<string, unknown>;
  let scheduleMs = [...DEFAULT_SCHEDULE_MS];
  if (schedule !== undefined) {
    if (!Array.isArray(schedule) || schedule.length > MAX_RETRY_STEPS) c.add("retry.schedule", `must be a list of at most ${MAX_RETRY_STEPS} durations`);
    else {
      scheduleMs = schedule.map((d, i) => {
        const ms = parseDuration(d);
        if (ms === null) c.add(`retry.schedule[${i}]`, "must be a duration like 5s, 5m or 2h");
        return ms ?? 0;
      });
    }
  }
  const j = jitter === undefined ? DEFAULT_JITTER : jitter;
  if (typeof j !== "number" || j < 0 || j > 1) c.add("retry.jitter", "must be a fraction between 0 and 1");
  return { scheduleMs, jitter: typeof j === "number" ? j : DEFAULT_JITTER };
}

function parseStartAt(input: unknown, c: Collector): StartAt {
  if (input === undefined || input === "new") return { policy: "new" };
  if (input === "all") return { policy: "all" };
  if (typeof input === "object" && input !== null) {
    const { sequence, time } = input as Record<string, unknown>;
    if (typeof sequence === "number" && Number.isInteger(sequence) && sequence >= 1) return { policy: "sequence", sequence };
    if (typeof time === "string" && !Number.isNaN(Date.parse(time))) return { policy: "time", time: new Date(time).toISOString() };
    const policy = (input as Record<string, unknown>).policy;
    if (policy === "new" || policy === "all") return { policy };
  }
  c.add("startAt", "must be new, all, {sequence: N} or {time: ISO}");
  return { policy: "new" };
}

function durationField(input: Record<string, unknown>, names: string[], fallback: number, c: Collector, min = 1): number {
  const name = names.find((n) => input[n] !== undefined);
  if (!name) return fallback;
  const ms = parseDuration(input[name]);
  if (ms === null || ms < min) {
    c.add(name, `must be a duration of at least ${min}ms`);
    return fallback;
  }
  return ms;
}

function intField(input: Record<string, unknown>, name: string, fallback: number, min: number, max: number, c: Collector): number {
  const v = input[name];
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    c.add(name, `must be an integer from ${min} to ${max}`);
    return fallback;
  }
  return v;
}

/**
 * Normalizes and validates a subscription as written in YAML or sent to the API. `existing`
 * keeps server-held fields (createdAt, start position, secrets when none are given) on update.
 */
export function parseSubscription(input: unknown, existing?: Subscription, now = new Date()): Parsed<Subscription> {
  const c = new Collector();
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return { ok: false, errors: [{ path: "", message: "a subscription must be an object" }] };
  }
  const o = input as Record<string, unknown>;
  const id = o.id;
  if (typeof id !== "string" || !SUBSCRIPTION_ID.test(id)) c.add("id", "must be 1-64 of a-z 0-9 _ - (starting and ending with a letter or digit)");
  const url = o.url;
  if (typeof url !== "string" || !URL.canParse(url)) c.add("url", "must be an absolute http(s) URL");
  const types = o.types;
  if (types !== undefined) for (const p of typesProblems(types)) c.add(p.path, p.message);
  if (types !== undefined && o.filter !== undefined) c.add("filter", "give types or filter, not both (types select by type pattern, filter by subject)");
  const filter = types === undefined ? o.filter ?? ALL_EVENTS_SUBJECT : undefined;
  if (filter !== undefined) {
    const fp = filterProblem(filter);
    if (fp) c.add("filter", fp);
  }
  const where = o.where ?? undefined;
  if (where !== undefined && (typeof where !== "string" || where.trim() === "" || where.length > MAX_WHERE_LENGTH)) {
    c.add("where", `must be a CEL expression of 1 to ${MAX_WHERE_LENGTH} characters, like data.total.amount > 100`);
  } else if (where !== undefined) {
    const compiled = compileWhere(where as string);
    if (!compiled.ok) c.add("where", compiled.message);
  }
  const hasSecrets = o.secrets !== undefined || o.secret !== undefined;
  const secrets = !hasSecrets && existing ? existing.secrets : parseSecrets(o, c);
  const retry = parseRetry(o.retry, c);
  const timeoutMs = durationField(o, ["timeout", "timeoutMs"], DEFAULT_TIMEOUT_MS, c);
  const ackWaitMs = durationField(o, ["ackWait", "ackWaitMs"], timeoutMs + ACK_WAIT_MARGIN_MS, c);
  if (ackWaitMs <= timeoutMs) c.add("ackWait", "must be longer than timeout, or JetStream would redeliver a running attempt");
  const ordered = o.ordered ?? existing?.ordered ?? false;
  if (typeof ordered !== "boolean") c.add("ordered", "must be true or false");
  // An ordered subscription has durables of its own; an unordered one is served by the shared
  // fan-out. Switching would hand events in flight on one path to the other out of order.
  else if (existing && ordered !== existing.ordered) c.add("ordered", "cannot change on an existing subscription; create a new one");
  const maxConcurrency = ordered === true ? 1 : intField(o, "maxConcurrency", DEFAULT_MAX_CONCURRENCY, 1, MAX_CONCURRENCY_LIMIT, c);
  const rateRaw = o.rateLimit ?? o.rateLimitPerSecond ?? null;
  if (rateRaw !== null && (typeof rateRaw !== "number" || !(rateRaw > 0))) c.add("rateLimit", "must be a positive number of deliveries per second, or absent");
  const enabled = o.enabled ?? true;
  if (typeof enabled !== "boolean") c.add("enabled", "must be true or false");
  const format = o.format ?? "structured";
  if (format !== "structured" && format !== "binary") c.add("format", "must be structured or binary");
  const startAt = existing ? existing.startAt : parseStartAt(o.startAt, c);
  const metadata = o.metadata ?? {};
  if (typeof metadata !== "object" || metadata === null || Object.values(metadata).some((v) => typeof v !== "string")) {
    c.add("metadata", "must be a map of strings");
  }
  if (c.errors.length > 0) return { ok: false, errors: c.errors };
  const sub: Subscription = {
    id: id as string,
    url: url as string,
    ...(filter !== undefined ? { filter: filter as string } : { types: types as string[] }),
    ...(where !== undefined ? { where: where as string } : {}),
    secrets,
    retry,
    timeoutMs,
    ackWaitMs,
    maxConcurrency,
    rateLimitPerSecond: rateRaw as number | null,
    ordered: ordered as boolean,
    enabled: enabled as boolean,
    format: format as Subscription["format"],
    startAt,
    metadata: metadata as Record<string, string>,
    createdAt: existing?.createdAt ?? now.toISOString(),
    updatedAt: now.toISOString(),
    // Server-held like createdAt: an update (PUT, PATCH, a file applied) must not make the fan-out
    // and the backfill forget where one ends and the other begins.
    ...(existing?.joinedAt ? { joinedAt: existing.joinedAt } : {}),
  };
  if (!sub.enabled) {
    sub.disabledReason = typeof o.disabledReason === "string" ? o.disabledReason : existing?.disabledReason ?? "disabled by an operator";
    sub.disabledAt = existing?.disabledAt ?? now.toISOString();
  }
  return { ok: true, value: sub };
}

/** The fields a subscriber controls; equal specs mean `apply` has nothing to do. */
function specOf(sub: Subscription): Omit<Subscription, "createdAt" | "updatedAt" | "disabledAt" | "disabledReason" | "joinedAt"> {
  const { createdAt: _c, updatedAt: _u, disabledAt: _d, disabledReason: _r, joinedAt: _j, ...spec } = sub;
  return spec;
}

export function sameSpec(a: Subscription, b: Subscription): boolean {
  return JSON.stringify(specOf(a)) === JSON.stringify(specOf(b));
}
