// API keys: what a key entry holds, how a key is hashed, and which event types it may publish.
// Keys are never stored in clear: the edge keeps the SHA-256 of each key (hex) and hashes the
// presented bearer token to look it up, so a leaked config does not leak usable keys.
import { isEventTypeGlob, typeMatches } from "../../broker/index.ts";

export { typeMatches };

export interface RateLimit {
  perSecond: number;
  burst: number;
}

export interface ApiKeyEntry {
  /** Who holds the key; becomes the CloudEvents `source` on the plain JSON route. */
  name: string;
  /** Lower-case hex SHA-256 of the key's UTF-8 bytes. */
  sha256: string;
  /** Event types this key may publish, as glob patterns (see typeMatches). */
  types: string[];
  /**
   * Type patterns the key's browser tokens may subscribe to (same globs as `types`). Absent: the
   * key may not subscribe, and its tokens carry no subscribe patterns.
   */
  subscribe?: string[];
  /** Overrides RATE_LIMIT_PER_SECOND / RATE_LIMIT_BURST for this key. */
  rateLimit?: RateLimit;
}

/**
 * A fixed key for the local stack and examples only: its hash is the default entry of
 * `devApiKeys()`. Never configure it on a deployed edge.
 */
export const DEV_API_KEY = "jg_dev_local_only_not_secret";

export async function hashApiKey(key: string): Promise<string> {
  return hex(await sha256(key));
}

/** SHA-256 of the UTF-8 bytes of `text`, with Web Crypto (workerd has no node:crypto). */
export async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The 32 bytes a lower-case hex SHA-256 (as parseApiKeys checked it) stands for. */
export function digestBytes(sha256Hex: string): Uint8Array {
  const out = new Uint8Array(sha256Hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(sha256Hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/**
 * Byte equality whose running time depends only on the length of `given` (the caller's input),
 * never on where `given` and `expected` first differ nor on `expected`'s length: every byte of
 * `given` is compared, and a length difference is folded into the same accumulator instead of
 * returning early. The same idea as Node's crypto.timingSafeEqual and standard-webhooks'
 * timingSafeEqual, written with plain typed arrays because workerd has no node:crypto. (Compare
 * fixed-size digests where you can, so even the length of `given` says nothing.)
 */
export function constantTimeEqual(given: Uint8Array, expected: Uint8Array): boolean {
  let diff = given.length ^ expected.length;
  const n = expected.length;
  for (let i = 0; i < given.length; i++) {
    // With an empty `expected` the length difference already decides; index 0 keeps the loop uniform.
    diff |= given[i]! ^ (n === 0 ? 0 : expected[i % n]!);
  }
  return diff === 0;
}

/** constantTimeEqual over the UTF-16 code units of two strings (no encoding step on the hot path). */
export function constantTimeEqualText(given: string, expected: string): boolean {
  let diff = given.length ^ expected.length;
  const n = expected.length;
  for (let i = 0; i < given.length; i++) diff |= given.charCodeAt(i) ^ (n === 0 ? 0 : expected.charCodeAt(i % n));
  return diff === 0;
}

/**
 * Text shaped like an API key: the `jg_` prefix and a long base64url tail. Keys carry a prefix so
 * they can be recognised where they do not belong (a log line, a pasted URL), as GitHub and
 * Stripe tokens are.
 */
export const API_KEY_SHAPE = /jg_[A-Za-z0-9_-]{16,}/g;

/** A fresh random key (`jg_` + 32 bytes base64url) — what `jetgate edge key` prints. */
export function generateApiKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return "jg_" + btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The API_KEYS value for the local stack: DEV_API_KEY, allowed to publish and subscribe to every type. */
export async function devApiKeys(): Promise<ApiKeyEntry[]> {
  return [{ name: "dev", sha256: await hashApiKey(DEV_API_KEY), types: ["**"], subscribe: ["**"] }];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Parses and checks the API_KEYS var: a JSON array of ApiKeyEntry. */
export function parseApiKeys(raw: string): ApiKeyEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error("must be a JSON array of {name, sha256, types, subscribe?}");
  }
  if (!Array.isArray(parsed)) throw new Error("must be a JSON array of {name, sha256, types, subscribe?}");
  return parsed.map((entry, i) => {
    if (!isRecord(entry)) throw new Error(`entry ${i} is not an object`);
    const { name, sha256, types, subscribe, rateLimit } = entry;
    if (typeof name !== "string" || name === "") throw new Error(`entry ${i}: name must be a non-empty string`);
    if (typeof sha256 !== "string" || !/^[0-9a-f]{64}$/.test(sha256)) {
      throw new Error(`entry ${i} (${name}): sha256 must be 64 lower-case hex digits`);
    }
    const out: ApiKeyEntry = { name, sha256, types: typeGlobs(types, `entry ${i} (${name}): types`) };
    if (subscribe !== undefined) out.subscribe = typeGlobs(subscribe, `entry ${i} (${name}): subscribe`);
    if (rateLimit !== undefined) {
      if (!isRecord(rateLimit) || !Number.isFinite(rateLimit.perSecond) || !Number.isFinite(rateLimit.burst)) {
        throw new Error(`entry ${i} (${name}): rateLimit must be {perSecond, burst}`);
      }
      out.rateLimit = { perSecond: Number(rateLimit.perSecond), burst: Number(rateLimit.burst) };
    }
    return out;
  });
}

/** A key's `types` or `subscribe`: an array of type globs (broker/event-type.ts isEventTypeGlob). */
function typeGlobs(value: unknown, what: string): string[] {
  if (!Array.isArray(value)) throw new Error(`${what} must be an array of type globs`);
  for (const glob of value) {
    if (typeof glob !== "string" || !isEventTypeGlob(glob)) {
      throw new Error(`${what}: ${JSON.stringify(glob)} is not a type glob (lower-case segments joined by ".", * within one, ** across)`);
    }
  }
  return value as string[];
}

type GlobToken = "*" | "**" | string;

/** `order.**` → ["o","r","d","e","r",".","**"]: literal characters and the two wildcards. */
function globTokens(glob: string): GlobToken[] {
  const out: GlobToken[] = [];
  for (let i = 0; i < glob.length; i++) {
    if (glob.startsWith("**", i)) {
      out.push("**");
      i++;
    } else out.push(glob[i]!);
  }
  return out;
}

/**
 * True when every type `inner` matches is matched by `outer` (so a token asking for `inner` asks
 * for no more than a key holding `outer`): `order.created` and `order.*` are within `order.*` and
 * `order.**`; `order.**` is not within `order.*`. Decided on the two globs, not on samples: each of
 * inner's pieces must be absorbed by a piece of outer at least as wide (a literal by itself, `*` or
 * `**`; inner's `*` by `*` or `**`; inner's `**` by `**` only). Sound, so never lets a wider glob
 * through; a glob within the union of several of the key's globs but none alone is refused.
 */
export function globWithin(inner: string, outer: string): boolean {
  const a = globTokens(inner);
  const b = globTokens(outer);
  const memo = new Map<number, boolean>();
  const covers = (i: number, j: number): boolean => {
    const key = i * (b.length + 1) + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let result: boolean;
    if (j === b.length) result = i === a.length;
    else if (b[j] === "**") result = covers(i, j + 1) || (i < a.length && covers(i + 1, j));
    else if (b[j] === "*") result = covers(i, j + 1) || (i < a.length && a[i] !== "." && a[i] !== "**" && covers(i + 1, j));
    else result = i < a.length && a[i] === b[j] && covers(i + 1, j + 1);
    memo.set(key, result);
    return result;
  };
  return covers(0, 0);
}

/** The globs of `asked` that no glob of `allowed` covers (empty: all of them are within scope). */
export function globsOutside(asked: string[], allowed: string[]): string[] {
  return asked.filter((glob) => !allowed.some((scope) => globWithin(glob, scope)));
}
