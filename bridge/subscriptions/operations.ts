// The operations an operator performs on subscriptions, shared by the admin API and the CLI:
// each validates, checks the URL against the SSRF policy and writes through the store.
import { BridgeError } from "../errors.ts";
import { checkUrl, parseAllowList, type SsrfPolicy } from "../delivery/ssrf.ts";
import type { SubscriptionStore } from "./store.ts";
import type { RegistrySource } from "../registry/index.ts";
import { checkPins } from "./pin-check.ts";
import { generateSecret, parseSubscription, sameSpec, secretProblem, type Subscription } from "./model.ts";

/** How long the old secret keeps signing after a rotation, unless told otherwise (Svix: 24h). */
export const DEFAULT_ROTATION_OVERLAP_MS = 24 * 3_600_000;
/** The longest an old secret may keep signing after a rotation: a rotation is a hand-over, not a second key. */
export const MAX_ROTATION_OVERLAP_MS = 30 * 24 * 3_600_000;

export function ssrfPolicy(opts: { ssrfAllow?: string[]; httpsOnly?: boolean }): SsrfPolicy {
  return { allow: parseAllowList(opts.ssrfAllow ?? []), httpsOnly: opts.httpsOnly ?? false };
}

/** Checks made against the registry build, when the caller has one loaded (the admin API). */
export interface RegistryChecks {
  registry?: RegistrySource;
}

function validated(input: unknown, existing: Subscription | undefined, policy: SsrfPolicy, checks: RegistryChecks): Subscription {
  const parsed = parseSubscription(input, existing);
  if (!parsed.ok) {
    throw new BridgeError("SUBSCRIPTION_INVALID", `invalid subscription: ${parsed.errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`, {
      errors: parsed.errors,
    });
  }
  checkUrl(parsed.value.url, policy);
  checkPins(parsed.value, checks.registry);
  return parsed.value;
}

export async function createSubscription(store: SubscriptionStore, input: unknown, policy: SsrfPolicy, checks: RegistryChecks = {}): Promise<Subscription> {
  return store.create(validated(input, undefined, policy, checks));
}

/** Replaces a subscription's spec (PUT semantics); secrets and start position are kept if not given. */
export async function replaceSubscription(store: SubscriptionStore, id: string, input: unknown, policy: SsrfPolicy, checks: RegistryChecks = {}): Promise<Subscription> {
  const { sub: existing, revision } = await store.require(id);
  const sub = validated({ ...(input as object), id }, existing, policy, checks);
  await store.put(sub, revision);
  return sub;
}

/** Changes only the given fields (PATCH semantics). */
export async function patchSubscription(store: SubscriptionStore, id: string, patch: Record<string, unknown>, policy: SsrfPolicy, checks: RegistryChecks = {}): Promise<Subscription> {
  const { sub: existing, revision } = await store.require(id);
  const base: Record<string, unknown> = {
    id,
    url: existing.url,
    // A patch that selects anew (types or filter) replaces the other way of selecting.
    ...(patch.types === undefined && patch.filter === undefined ? { filter: existing.filter, types: existing.types } : {}),
    where: existing.where,
    retry: { schedule: existing.retry.scheduleMs, jitter: existing.retry.jitter },
    timeout: existing.timeoutMs,
    ackWait: patch.timeout !== undefined && patch.ackWait === undefined ? undefined : existing.ackWaitMs,
    maxConcurrency: existing.maxConcurrency,
    rateLimit: existing.rateLimitPerSecond,
    ordered: existing.ordered,
    enabled: existing.enabled,
    format: existing.format,
    metadata: existing.metadata,
  };
  const sub = validated({ ...base, ...patch, id }, existing, policy, checks);
  await store.put(sub, revision);
  return sub;
}

export async function setEnabled(store: SubscriptionStore, id: string, enabled: boolean, reason?: string): Promise<Subscription> {
  const sub = await store.modify(id, (s) => {
    const now = new Date().toISOString();
    if (enabled) {
      const { disabledAt: _a, disabledReason: _r, ...rest } = s;
      return { ...rest, enabled: true, updatedAt: now };
    }
    return { ...s, enabled: false, disabledReason: reason ?? "disabled by an operator", disabledAt: now, updatedAt: now };
  });
  // A re-enabled subscription starts its failure run afresh.
  if (enabled) await store.markHealthy(id);
  return sub;
}

/**
 * Adds a new signing secret. The old live secrets keep signing for `overlapMs` (each delivery then
 * carries one signature per live secret), so receivers can switch keys without dropping a delivery.
 */
export async function rotateSecret(
  store: SubscriptionStore,
  id: string,
  opts: { secret?: string; overlapMs?: number } = {},
): Promise<{ subscription: Subscription; secret: string }> {
  const secret = opts.secret ?? generateSecret();
  const problem = secretProblem(secret);
  if (problem) throw new BridgeError("REQUEST_INVALID", `secret ${problem}`, { field: "secret" });
  const overlap = opts.overlapMs ?? DEFAULT_ROTATION_OVERLAP_MS;
  // Past this, `now + overlap` would also leave the range of a Date (found by the admin fuzz: a 500).
  if (!(overlap >= 0 && overlap <= MAX_ROTATION_OVERLAP_MS)) {
    throw new BridgeError("REQUEST_INVALID", `overlap must be between 0 and ${MAX_ROTATION_OVERLAP_MS / 86_400_000} days`, { field: "overlap" });
  }
  const subscription = await store.modify(id, (s) => {
    const now = Date.now();
    const until = new Date(now + overlap).toISOString();
    const kept = s.secrets
      .filter((old) => !old.notAfter || Date.parse(old.notAfter) > now)
      .filter((old) => old.secret !== secret)
      .map((old) => ({ secret: old.secret, notAfter: old.notAfter && Date.parse(old.notAfter) < Date.parse(until) ? old.notAfter : until }));
    return { ...s, secrets: [...kept, { secret }], updatedAt: new Date(now).toISOString() };
  });
  return { subscription, secret };
}

export interface ApplyResult {
  created: string[];
  updated: string[];
  unchanged: string[];
  deleted: string[];
}

/** Makes the bucket match a list of subscription specs; idempotent. `prune` deletes the others. */
export async function applySubscriptions(
  store: SubscriptionStore,
  inputs: unknown[],
  policy: SsrfPolicy,
  opts: { prune?: boolean } & RegistryChecks = {},
): Promise<ApplyResult> {
  const result: ApplyResult = { created: [], updated: [], unchanged: [], deleted: [] };
  const seen = new Set<string>();
  const planned: Array<{ sub: Subscription; existing: { sub: Subscription; revision: number } | null }> = [];
  // Validate everything before writing anything, so a bad file changes nothing.
  for (const [i, input] of inputs.entries()) {
    const id = (input as { id?: unknown })?.id;
    const existing = typeof id === "string" ? await store.get(id) : null;
    let sub: Subscription;
    try {
      sub = validated(input, existing?.sub, policy, opts);
    } catch (err) {
      if (err instanceof BridgeError) throw new BridgeError(err.code, `subscriptions[${i}]: ${err.message}`, { index: i, ...err.data });
      throw err;
    }
    if (seen.has(sub.id)) throw new BridgeError("SUBSCRIPTION_INVALID", `subscriptions[${i}]: id ${sub.id} appears twice`, { index: i });
    seen.add(sub.id);
    planned.push({ sub, existing });
  }
  for (const { sub, existing } of planned) {
    if (!existing) {
      await store.create(sub);
      result.created.push(sub.id);
    } else if (sameSpec(existing.sub, sub)) {
      result.unchanged.push(sub.id);
    } else {
      await store.put({ ...sub, createdAt: existing.sub.createdAt }, existing.revision);
      result.updated.push(sub.id);
    }
  }
  if (opts.prune) {
    for (const sub of await store.list()) {
      if (seen.has(sub.id)) continue;
      await store.delete(sub.id);
      result.deleted.push(sub.id);
    }
  }
  return result;
}
