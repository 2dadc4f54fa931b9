// Who is calling, what they may publish, and how fast: bearer API keys looked up by hash, type
// scopes, and a per-key token bucket. The bucket lives in memory, so on workerd it limits per
// isolate (Cloudflare runs several): it stops a runaway client, it is not an exact quota.
import { EdgeError } from "./problems.ts";
import { hashApiKey, typeMatches, type ApiKeyEntry, type RateLimit } from "./keys.ts";

const RECENT_KEYS = 1024;

export class KeyStore {
  private readonly byHash = new Map<string, ApiKeyEntry>();

  /**
   * Tokens seen recently and their entries: hashing is async (crypto.subtle) and cost a large
   * share of a small request. Only known keys are remembered, and only a bounded number.
   */
  private readonly recent = new Map<string, ApiKeyEntry>();

  private remember(token: string, entry: ApiKeyEntry): void {
    if (this.recent.size >= RECENT_KEYS) this.recent.delete(this.recent.keys().next().value!);
    this.recent.set(token, entry);
  }

  constructor(entries: ApiKeyEntry[]) {
    for (const entry of entries) this.byHash.set(entry.sha256, entry);
  }

  /** The key named by `Authorization: Bearer <key>` (RFC 6750 §2.1), or a 401. */
  async authenticate(authorization: string | undefined): Promise<ApiKeyEntry> {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? "");
    if (!match) {
      throw new EdgeError("unauthorized", "send an API key as `Authorization: Bearer <key>`", {}, { "www-authenticate": "Bearer" });
    }
    const token = match[1]!;
    let entry = this.recent.get(token);
    if (!entry) {
      entry = this.byHash.get(await hashApiKey(token));
      if (entry) this.remember(token, entry);
    }
    if (!entry) {
      throw new EdgeError("unauthorized", "the API key is not known", {}, { "www-authenticate": 'Bearer error="invalid_token"' });
    }
    return entry;
  }
}

export function assertTypeAllowed(key: ApiKeyEntry, type: string): void {
  if (key.types.some((pattern) => typeMatches(pattern, type))) return;
  throw new EdgeError("forbidden-type", `the API key "${key.name}" may not publish "${type}"`);
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
      "rate-limited",
      `the API key "${key.name}" is limited to ${limit.perSecond} requests/s (burst ${burst})`,
      {},
      { "retry-after": String(retryAfter) },
    );
  }
}
