// Reading an admin request: ids from the path or a selector, the JSON body, optional times and
// counts. Each refusal is a BridgeError (REQUEST_INVALID, or SUBSCRIPTION_NOT_FOUND for an id that
// cannot exist), so it reaches the client as a 4xx problem (problems.ts), never a 5xx.
import type { Context } from "hono";
import { BridgeError } from "../errors.ts";
import { SUBSCRIPTION_ID } from "../subscriptions/model.ts";

/** Largest admin request body: a subscription or a test event is a few KiB; this is a bound, not a knob. */
export const ADMIN_BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * The subscription id in the path. An id outside the grammar cannot exist, and it must not reach
 * the KV bucket or a subject (`*`, `>`, `$JS`, `..` are NATS syntax there): it is not found.
 */
export function pathId(c: Context): string {
  const id = c.req.param("id") ?? "";
  if (!SUBSCRIPTION_ID.test(id)) throw new BridgeError("SUBSCRIPTION_NOT_FOUND", `no subscription ${JSON.stringify(id)}`, { id });
  return id;
}

/** A subscription id given as a selector (query or body): it becomes part of a subject filter, so wildcards are refused. */
export function selectorId(value: string | undefined, field: string): string | undefined {
  if (value === undefined || value === "") return undefined;
  if (!SUBSCRIPTION_ID.test(value)) throw new BridgeError("REQUEST_INVALID", `${field} must be a subscription id`, { field });
  return value;
}

export async function jsonBody(c: Context): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (!text) return {};
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // Fall through to the error below.
  }
  throw new BridgeError("REQUEST_INVALID", "the request body must be a JSON object");
}

export function optionalDate(value: unknown, field: string): Date | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const date = new Date(String(value));
  // RFC 3339 has four-digit years; JetStream (Go) refuses the six-digit ones JavaScript can make.
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() < 0 || date.getUTCFullYear() > 9999) {
    throw new BridgeError("REQUEST_INVALID", `${field} must be an ISO time`, { field });
  }
  return date;
}

export function optionalInt(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const n = Number(value);
  // Past 2^53 a number is no longer exact, and past 1e21 JSON writes it as 1e+21, which JetStream refuses.
  if (!Number.isSafeInteger(n) || n < 0) throw new BridgeError("REQUEST_INVALID", `${field} must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}`, { field });
  return n;
}
