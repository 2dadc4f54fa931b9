// Browser tokens: what a browser presents instead of an API key, because a browser cannot set an
// Authorization header on a WebSocket (RFC 6455 §4.1 lets it choose only the URL and
// Sec-WebSocket-Protocol). POST /v1/tokens mints one for an API key; the WebSocket upgrade verifies
// it. A token is `v1.<claims>.<mac>`: the claims as base64url JSON and an HMAC-SHA256 (RFC 2104)
// over `v1.<claims>` with TOKEN_SECRET, base64url too (RFC 4648 §5, no padding). Every character is
// an RFC 7230 `tchar`, so `jetgate.token.<token>` is a valid Sec-WebSocket-Protocol value.
// Stateless: the edge keeps nothing per token, so any isolate or Node process with the same secret
// verifies it. Web Crypto only (crypto.subtle), so the same module runs in workerd and on Node.
import { EdgeError } from "../http/problems.ts";
import { TOKEN_SECRET_VAR } from "../config.ts";
import { constantTimeEqual } from "./keys.ts";
import { TOKEN_PROTOCOL_PREFIX } from "../sockets/protocol.ts";

/** What a token grants, as signed. Times are seconds since the epoch (JWT's NumericDate, RFC 7519 §2). */
export interface BrowserTokenClaims {
  /** The API key's name the token was minted for (events it publishes get it as their source). */
  sub: string;
  /** Type globs it may publish: the key's `types`, or a narrower set the request asked for. */
  publish: string[];
  /** Type globs it may subscribe to: within the key's `subscribe` scope; empty if the key has none. */
  subscribe: string[];
  /** The one Origin (RFC 6454 serialization) the token may be used from; absent: any. */
  origin?: string;
  iat: number;
  exp: number;
  /** A random id, so two tokens minted in the same second for the same grant still differ (and can be named in logs). */
  jti: string;
}

/** A token request once checked: the claims to sign, less the times and the id, plus its lifetime. */
export type TokenGrant = Omit<BrowserTokenClaims, "iat" | "exp" | "jti"> & { ttlSeconds: number };

export type TokenFailure = "malformed" | "forged" | "expired";

/** What verifyToken found: the claims, or why the token is refused (data, not an exception). */
export type TokenCheck = { ok: true; claims: BrowserTokenClaims } | { ok: false; failure: TokenFailure; detail: string };

export const TOKEN_VERSION = "v1";

export { TOKEN_PROTOCOL_PREFIX } from "../sockets/protocol.ts";

/**
 * Longer than any token the edge mints for a sane scope, short enough that a junk value costs
 * nothing: checked before any decoding or HMAC.
 */
const MAX_TOKEN_CHARS = 16 * 1024;

const BASE64URL = /^[A-Za-z0-9_-]+$/;

function toBase64Url(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * The bytes of a base64url text, or null. Only the canonical encoding is accepted: a last
 * character differing in its unused low bits decodes to the same bytes, and would otherwise let a
 * changed token pass as the original.
 */
function fromBase64Url(text: string): Uint8Array | null {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return null;
  let bin: string;
  try {
    bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    return null;
  }
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return toBase64Url(bytes) === text ? bytes : null;
}

/** Imported HMAC keys by secret: importKey is async and the same one or two secrets sign every token. */
const keyCache = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keyCache.get(secret);
  if (!key) {
    if (keyCache.size >= 4) keyCache.clear();
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    keyCache.set(secret, key);
  }
  return key;
}

async function mac(signingInput: string, secret: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), new TextEncoder().encode(signingInput)));
}

/** Signs a grant: iat = now, exp = now + ttl (whole seconds), a fresh jti. `now` in milliseconds. */
export async function mintToken(grant: TokenGrant, secret: string, now: number): Promise<{ token: string; claims: BrowserTokenClaims }> {
  const iat = Math.floor(now / 1000);
  const claims: BrowserTokenClaims = { sub: grant.sub, publish: [...grant.publish], subscribe: [...grant.subscribe], iat, exp: iat + grant.ttlSeconds, jti: randomId() };
  if (grant.origin !== undefined) claims.origin = grant.origin;
  const signingInput = `${TOKEN_VERSION}.${toBase64Url(new TextEncoder().encode(JSON.stringify(claims)))}`;
  return { token: `${signingInput}.${toBase64Url(await mac(signingInput, secret))}`, claims };
}

function randomId(): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(16)));
}

const refuse = (failure: TokenFailure, detail: string): TokenCheck => ({ ok: false, failure, detail });

/**
 * The token's claims if it is well formed, signed with `secret` and not expired at `now` (ms).
 * The signature is checked before the claims are even decoded, and compared in constant time
 * (keys.ts constantTimeEqual) over its fixed 32 bytes.
 */
export async function verifyToken(token: string, secret: string, now: number): Promise<TokenCheck> {
  if (token.length > MAX_TOKEN_CHARS) return refuse("malformed", `a token is at most ${MAX_TOKEN_CHARS} characters`);
  const parts = token.split(".");
  if (parts.length !== 3) return refuse("malformed", "a token is three dot-separated parts: version, claims, signature");
  const [version, payload, signature] = parts as [string, string, string];
  if (version !== TOKEN_VERSION) return refuse("malformed", `unknown token version; this edge reads ${TOKEN_VERSION}`);
  const given = fromBase64Url(signature);
  const payloadBytes = fromBase64Url(payload);
  if (!given || !payloadBytes) return refuse("malformed", "the claims and the signature must be canonical base64url");
  if (!constantTimeEqual(given, await mac(`${version}.${payload}`, secret))) {
    return refuse("forged", "the signature does not verify with this edge's secret");
  }
  const claims = claimsOf(payloadBytes);
  if (!claims) return refuse("malformed", "the signed claims are not a browser token's");
  if (Math.floor(now / 1000) >= claims.exp) return refuse("expired", `the token expired at ${new Date(claims.exp * 1000).toISOString()}`);
  return { ok: true, claims };
}

const isStrings = (value: unknown): value is string[] => Array.isArray(value) && value.every((v) => typeof v === "string");

/** The claims, checked field by field (a token signed by a future or buggy minter must not crash the reader). */
function claimsOf(bytes: Uint8Array): BrowserTokenClaims | null {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return null;
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return null;
  const { sub, publish, subscribe, origin, iat, exp, jti } = raw as Record<string, unknown>;
  if (typeof sub !== "string" || !isStrings(publish) || !isStrings(subscribe) || typeof jti !== "string") return null;
  if (!Number.isInteger(iat) || !Number.isInteger(exp) || (origin !== undefined && typeof origin !== "string")) return null;
  const claims: BrowserTokenClaims = { sub, publish, subscribe, iat: iat as number, exp: exp as number, jti };
  if (origin !== undefined) claims.origin = origin;
  return claims;
}

/**
 * What the WebSocket upgrade calls before it accepts: the token's claims, or the problem to answer
 * (401 token-invalid / token-expired, 403 token-origin-mismatch, 503 tokens-not-configured).
 * The Origin rule: a token minted with an `origin` is good only from that exact Origin (RFC 6454
 * serialization, as browsers send it); a request without an Origin header does not match it. A
 * token without one is not bound to an Origin. The CORS allow-list (CORS_ORIGINS) is a separate,
 * additional check that belongs to the upgrade route, which holds the config.
 */
export async function authenticateBrowserToken(
  token: string,
  origin: string | undefined,
  secret: string | undefined,
  now: number,
): Promise<BrowserTokenClaims> {
  if (secret === undefined) throw tokensNotConfigured();
  const check = await verifyToken(token, secret, now);
  if (!check.ok) throw new EdgeError(check.failure === "expired" ? "TOKEN_EXPIRED" : "TOKEN_INVALID", check.detail);
  const bound = check.claims.origin;
  if (bound !== undefined && bound !== origin) {
    throw new EdgeError("TOKEN_ORIGIN_MISMATCH", `the token is for ${bound}, the request comes from ${origin ?? "no Origin"}`);
  }
  return check.claims;
}

/**
 * The token in a Sec-WebSocket-Protocol header (comma-separated values, RFC 6455 §11.3.4), or
 * undefined when none of them is `jetgate.token.<token>`.
 */
export function tokenFromProtocols(header: string | null | undefined): string | undefined {
  for (const value of (header ?? "").split(",")) {
    const protocol = value.trim();
    if (protocol.startsWith(TOKEN_PROTOCOL_PREFIX)) return protocol.slice(TOKEN_PROTOCOL_PREFIX.length);
  }
  return undefined;
}

export function tokensNotConfigured(): EdgeError {
  return new EdgeError("TOKENS_NOT_CONFIGURED", `the operator set no ${TOKEN_SECRET_VAR}, so this edge mints and accepts no browser tokens`);
}
