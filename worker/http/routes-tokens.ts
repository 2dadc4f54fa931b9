// POST /v1/tokens: an API key holder (a backend) mints a short-lived browser token for its page.
// authenticate → rate limit (the same bucket as POST /v1/events) → the secret is set → read and
// check the request → narrow the key's scopes → sign (worker/auth/browser-tokens.ts) → 201.
import type { Context, Hono } from "hono";
import type { AppEnv } from "./context.ts";
import { TOKEN_LIMITS, type EdgeConfig } from "../config.ts";
import type { KeyStore, RateLimiter } from "../auth/authenticate.ts";
import { globsOutside, type ApiKeyEntry } from "../auth/keys.ts";
import { mintToken, tokensNotConfigured, TOKEN_PROTOCOL_PREFIX, type TokenGrant } from "../auth/browser-tokens.ts";
import { isEventTypeGlob, isJsonMediaType } from "../../broker/index.ts";
import { requestContentType } from "../events/cloudevents.ts";
import { parseJson, readBody, type BodyReader } from "./request-limits.ts";
import { EdgeError } from "./problems.ts";
import { authorize } from "./routes-events.ts";

interface TokenRouteDeps {
  config: EdgeConfig;
  keys: KeyStore;
  limiter: RateLimiter;
  readBody: BodyReader;
  now: () => number;
}

/** The fields a token request may hold; any other is refused, so a typo is not a silent default. */
const FIELDS = new Set(["ttl", "origin", "publish", "subscribe"]);

function invalid(field: string, detail: string): EdgeError {
  return new EdgeError("INVALID_TOKEN_REQUEST", detail, { field });
}

/** The body as an object: empty (no body) is `{}`, every default. */
async function requestBody(c: Context<AppEnv>, deps: TokenRouteDeps): Promise<Record<string, unknown>> {
  const contentType = requestContentType(c.req.raw.headers);
  if (contentType !== undefined && !isJsonMediaType(contentType)) {
    throw new EdgeError("UNSUPPORTED_MEDIA_TYPE", `send the token request as application/json, not "${contentType}"`);
  }
  const bytes = await readBody(deps.readBody, c.req.raw, c.env, TOKEN_LIMITS.MAX_REQUEST_BYTES, "the token request");
  if (bytes.byteLength === 0) return {};
  const body = parseJson(bytes, deps.config.maxJsonDepth);
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw invalid("", "the token request must be a JSON object");
  for (const field of Object.keys(body)) {
    if (!FIELDS.has(field)) throw invalid(field, `unknown field "${field}"; a token request holds ${[...FIELDS].join(", ")}`);
  }
  return body as Record<string, unknown>;
}

function ttlOf(value: unknown): number {
  if (value === undefined) return TOKEN_LIMITS.DEFAULT_TTL_SECONDS;
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > TOKEN_LIMITS.MAX_TTL_SECONDS) {
    throw invalid("ttl", `ttl must be a whole number of seconds from 1 to ${TOKEN_LIMITS.MAX_TTL_SECONDS}`);
  }
  return value as number;
}

/**
 * An origin as a browser sends it in the Origin header (RFC 6454 §6.2): `scheme://host[:port]`,
 * lower-case, no default port, no path, no trailing slash. Compared to the header byte for byte
 * later, so anything else would make a token that no browser could use.
 */
function originOf(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const expected = "origin must be an http(s) origin as browsers send it: scheme://host[:port], no path";
  if (typeof value !== "string") throw invalid("origin", expected);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid("origin", expected);
  }
  if ((url.protocol !== "https:" && url.protocol !== "http:") || url.origin !== value) throw invalid("origin", `${expected} (e.g. ${url.origin})`);
  return value;
}

/** Asked-for globs, or the key's own when the request names none; asking beyond the key is 403. */
function scopeOf(field: "publish" | "subscribe", value: unknown, allowed: string[], key: ApiKeyEntry): string[] {
  if (value === undefined) return allowed;
  if (!Array.isArray(value) || !value.every((g) => typeof g === "string" && isEventTypeGlob(g))) {
    throw invalid(field, `${field} must be an array of type globs (lower-case segments joined by ".", * within one, ** across)`);
  }
  const outside = globsOutside(value as string[], allowed);
  if (outside.length > 0) {
    const scope = allowed.length > 0 ? `its ${field} scope is ${allowed.join(", ")}` : `it has no ${field} scope`;
    throw new EdgeError("FORBIDDEN_SCOPE", `the API key "${key.name}" may not grant ${field} ${outside.join(", ")}: ${scope}`, { field, outside });
  }
  return value as string[];
}

export function registerTokenRoutes(app: Hono<AppEnv>, deps: TokenRouteDeps): void {
  app.post("/v1/tokens", async (c) => {
    const key = await authorize(c, deps);
    const secret = deps.config.tokenSecret;
    if (secret === undefined) throw tokensNotConfigured();
    const body = await requestBody(c, deps);
    const ttlSeconds = ttlOf(body.ttl);
    const origin = originOf(body.origin);
    const grant: TokenGrant = {
      sub: key.name,
      publish: scopeOf("publish", body.publish, key.types, key),
      subscribe: scopeOf("subscribe", body.subscribe, key.subscribe ?? [], key),
      ttlSeconds,
    };
    if (origin !== undefined) grant.origin = origin;
    const { token, claims } = await mintToken(grant, secret, deps.now());
    // A token is a credential: no cache may keep it (as RFC 6749 §5.1 asks of OAuth tokens).
    c.header("cache-control", "no-store");
    return c.json({ token, expiresAt: new Date(claims.exp * 1000).toISOString(), protocol: TOKEN_PROTOCOL_PREFIX + token }, 201);
  });
}
