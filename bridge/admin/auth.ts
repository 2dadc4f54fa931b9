// The admin API's bearer token (RFC 6750): every /v1 route answers 401 without it, 503 when the
// bridge has none configured.
import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import type { BridgeConfig } from "../config.ts";
import { BridgeError } from "../errors.ts";

/**
 * Compares SHA-256 digests, not the tokens: timingSafeEqual needs equal lengths, and checking the
 * lengths first (as this did) told a caller the token's length. Digests are always 32 bytes, so
 * the time depends on nothing but the length of what the caller sent.
 */
export function tokenMatches(given: string, expected: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** Refuses a request without the configured token, before anything else reads it. */
export function bearerToken(config: Pick<BridgeConfig, "adminToken">): MiddlewareHandler {
  return async (c, next) => {
    if (!config.adminToken) throw new BridgeError("ADMIN_DISABLED", "the admin API is off: set JETGATE_BRIDGE_ADMIN_TOKEN");
    // RFC 6750 §2.1: the scheme is case-insensitive. No token at all is refused like a wrong one.
    const token = /^Bearer +(\S+)\s*$/i.exec(c.req.header("authorization") ?? "")?.[1];
    if (token === undefined || !tokenMatches(token, config.adminToken)) {
      c.header("www-authenticate", 'Bearer realm="jetgate-bridge"');
      throw new BridgeError("UNAUTHORIZED", "a valid bearer token is required");
    }
    await next();
  };
}
