// Who is calling, what they may publish, and how fast: bearer API keys looked up by hash, type
// scopes, and a per-key token bucket. The bucket lives in memory, so on workerd it limits per
// isolate (Cloudflare runs several): it stops a runaway client, it is not an exact quota.
import { EdgeError } from "../http/problems.ts";
import { constantTimeEqual, constantTimeEqualText, digestBytes, sha256, typeMatches, type ApiKeyEntry, type RateLimit } from "./keys.ts";

interface Known {
  entry: ApiKeyEntry;
  digest: Uint8Array;
}

interface Remembered {
  token: string;
  entry: ApiKeyEntry;
}

export class KeyStore {
  private readonly known: Known[];

  /**
   * Keys presented and found valid, in clear: hashing is async (crypto.subtle) and cost a large
   * share of a small request. Only valid keys are remembered, so there is at most one per entry.
   * Looked up by a constant-time scan, not a Map keyed by the token: a Map's lookup time depends
   * on the token's bytes (its hash bucket, then an early-exit string compare).
   */
  private readonly recent: Remembered[] = [];

  constructor(entries: ApiKeyEntry[]) {
    this.known = entries.map((entry) => ({ entry, digest: digestBytes(entry.sha256) }));
  }

  /** The key named by `Authorization: Bearer <key>` (RFC 6750 §2.1), or a 401. */
  async authenticate(authorization: string | undefined): Promise<ApiKeyEntry> {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? "");
    if (!match) {
      throw new EdgeError("UNAUTHORIZED", "send an API key as `Authorization: Bearer <key>`", {}, { "www-authenticate": "Bearer" });
    }
    const token = match[1]!;
    const entry = this.recall(token) ?? this.find(await sha256(token));
    if (!entry) {
      throw new EdgeError("UNAUTHORIZED", "the API key is not known", {}, { "www-authenticate": 'Bearer error="invalid_token"' });
    }
    if (!this.recent.some((r) => r.entry === entry)) this.recent.push({ token, entry });
    return entry;
  }

  /**
   * Every remembered key is compared, every time (no early exit on a match), and each comparison
   * takes a time set by the presented token's length alone.
   */
  private recall(token: string): ApiKeyEntry | undefined {
    let found: ApiKeyEntry | undefined;
    for (const r of this.recent) if (constantTimeEqualText(token, r.token)) found = r.entry;
    return found;
  }

  /** The entry whose SHA-256 equals `digest`: fixed-size digests, all compared in constant time. */
  private find(digest: Uint8Array): ApiKeyEntry | undefined {
    let found: ApiKeyEntry | undefined;
    for (const k of this.known) if (constantTimeEqual(digest, k.digest)) found = k.entry;
    return found;
  }
}

export function assertTypeAllowed(key: ApiKeyEntry, type: string): void {
  if (key.types.some((pattern) => typeMatches(pattern, type))) return;
  throw new EdgeError("FORBIDDEN_TYPE", `the API key "${key.name}" may not publish "${type}"`);
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/** One token per request; refills at `perSecond` up to `burst`. */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly defaults: RateLimit,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Takes a token for the key, or throws a 429 with the seconds until one is back. */
  take(key: ApiKeyEntry): void {
    const limit = key.rateLimit ?? this.defaults;
    if (limit.perSecond <= 0) return;
    const now = this.now();
    const burst = Math.max(1, limit.burst);
    const bucket = this.buckets.get(key.sha256) ?? { tokens: burst, updatedMs: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.updatedMs) / 1000) * limit.perSecond);
    bucket.updatedMs = now;
    this.buckets.set(key.sha256, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return;
    }
    const retryAfter = Math.max(1, Math.ceil((1 - bucket.tokens) / limit.perSecond));
    throw new EdgeError(
      "RATE_LIMITED",
      `the API key "${key.name}" is limited to ${limit.perSecond} requests/s (burst ${burst})`,
      // In the body too: a WebSocket problem frame has no headers.
      { retryAfter },
      { "retry-after": String(retryAfter) },
    );
  }
}
