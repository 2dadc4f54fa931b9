// A subscription's rateLimit held across every bridge instance (issue 14). Each instance used to
// keep its own token bucket, so N instances sent N times the rate a receiver asked for. Now the
// budget of each aligned wall-clock second lives in one KV key per subscription, and instances
// lease chunks of it (about a tenth of a second's worth, at least one) with optimistic concurrency
// (kv.update against the revision they read), the way Envoy's global rate limit or token leasing
// in Svix-like dispatchers keep the per-delivery path off the network: one KV write per chunk,
// none per delivery. Inside a chunk an instance paces its starts at most R per second, so a chunk
// is not a burst.
//
// Precision (a "delivery" is the start of an attempt, retries included; R = rateLimit):
// - over any aligned second k, all instances together start at most ⌊R·(k+1)⌋ − ⌊R·k⌋ deliveries
//   (R itself when R is whole): a token is leased for one window and void once it has passed;
// - so over n consecutive aligned seconds at most ⌊R·n⌋ + 1, and over any sliding second (the end
//   of one window and the start of the next) at most 2R, ⌊2R⌋ + 1 for a fractional R;
// - below that by at most one unused chunk (⌈R/10⌉) per instance per second it leased in;
// - windows are cut by each instance's clock: a skew of δ between instances blurs their edges by
//   δ (NTP keeps it to milliseconds). A key never goes back to an earlier window.
// When the bucket cannot be reached (no leader, a timeout, its stream gone), a limited
// subscription delivers nothing on that instance until it answers again, tried about once a
// second: its tasks wait in JetStream, and the receiver is never sent more than it asked for.
// That is logged once when it starts and once when it ends, not per event. A bucket that is gone
// (a memory stream does not outlive a lone nats-server's restart) is created again. Subscriptions without a rateLimit have no limiter.
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstream, StorageType } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { Logger } from "pino";
import { untilReady, type UntilReadyOptions } from "../../broker/jetstream/index.ts";
import { isWrongLastSequence } from "../nats-errors.ts";

export const RATE_BUCKET = "jetgate_rate_budget";
/** The budget's window: rateLimit is deliveries per second. */
const WINDOW_MS = 1_000;
/** A lease asks for this much of a second's budget (at least one delivery). */
const CHUNK_SECONDS = 0.1;
/**
 * Keys unwritten this long expire (bucket max age), so deleted or idle subscriptions leave
 * nothing behind; a key only matters for the current second.
 */
const BUCKET_TTL_MS = 60_000;
/** A lease that takes longer counts as "bucket unreachable"; it must not hold deliveries for long. */
const LEASE_TIMEOUT_MS = 1_000;
/** Lost update races in a row before a lease gives up for CONTENDED_RETRY_MS. */
const CONFLICT_TRIES = 8;
const CONTENDED_RETRY_MS = 20;
/** After the bucket did not answer, the subscription's next lease waits this long. */
const UNREACHABLE_RETRY_MS = 1_000;
/** Tries to create the bucket again (it may be gone) at most this often. */
const REOPEN_EVERY_MS = 5_000;
/** A delivery may be held this long for its paced start; a later start is "come back then". */
const LOOKAHEAD_MS = 100;

/** The deliveries window `k` (seconds since the epoch) may start, so that the sum over windows tracks R. */
export function windowBudget(perSecond: number, k: number): number {
  return Math.floor(perSecond * (k + 1)) - Math.floor(perSecond * k);
}

/** What is stored under a subscription's key: window number and deliveries leased in it. */
interface Used {
  w: number;
  n: number;
}

/** This instance's handle on the shared budgets, and whether the bucket answers (logged on change). */
export class RateBudget {
  private unreachable = false;
  private reopenedAt = 0;
  private reopening: Promise<void> | undefined;

  private constructor(
    private bucket: KV,
    private readonly create: () => Promise<KV>,
    private readonly log: Logger,
  ) {}

  /**
   * Opens (creating idempotently) the bucket, replicated like the others but in memory: every
   * lease is a write, and a count lost with the servers costs at most one second's budget.
   */
  static async open(nc: NatsConnection, replicas: number, log: Logger, wait: UntilReadyOptions = {}): Promise<RateBudget> {
    const kvm = new Kvm(jetstream(nc, { timeout: LEASE_TIMEOUT_MS }));
    const create = () => kvm.create(RATE_BUCKET, { replicas, history: 1, ttl: BUCKET_TTL_MS, storage: StorageType.Memory, description: "Jetgate rate-limit budgets, per subscription and second" });
    const kv = await untilReady(`KV bucket ${RATE_BUCKET} (stream KV_${RATE_BUCKET})`, create, wait);
    return new RateBudget(kv, create, log);
  }

  get kv(): KV {
    return this.bucket;
  }

  /** The limiter a subscription needs now: none without a rateLimit, else `current` re-rated or a new one. */
  limiter(sub: { id: string; rateLimitPerSecond: number | null }, current: SharedRate | null): SharedRate | null {
    if (sub.rateLimitPerSecond === null) return null;
    if (!current) return new SharedRate(this, sub.id, sub.rateLimitPerSecond);
    current.setRate(sub.rateLimitPerSecond);
    return current;
  }

  /** @internal */
  answered(): void {
    if (!this.unreachable) return;
    this.unreachable = false;
    this.log.info({ bucket: RATE_BUCKET }, "the rate-limit bucket answers again; rate-limited subscriptions deliver again");
  }

  /** @internal */
  failed(err: unknown): void {
    this.reopen();
    if (this.unreachable) return;
    this.unreachable = true;
    this.log.warn({ bucket: RATE_BUCKET, err }, "the rate-limit bucket does not answer; rate-limited subscriptions pause on this instance until it does");
  }

  /** Creates the bucket again in the background, in case it is gone (a no-op when it exists). */
  private reopen(): void {
    if (this.reopening || Date.now() - this.reopenedAt < REOPEN_EVERY_MS) return;
    this.reopenedAt = Date.now();
    this.reopening = this.create()
      .then((kv) => void (this.bucket = kv))
      .catch(() => undefined)
      .finally(() => (this.reopening = undefined));
  }
}

/** One subscription's share of its limit on this instance. */
export class SharedRate {
  /** The window the tokens below belong to. */
  private window = -1;
  private tokens = 0;
  /** Pacing: the next token may not start before this (epoch ms), and the spacing of starts. */
  private nextAt = 0;
  private interval = 0;
  /** No lease before this: the window's budget is spent, contended, or the bucket did not answer. */
  private retryAt = 0;
  private leasing: Promise<void> | undefined;
  /** The key as this instance last wrote or read it, so a lease is usually one write. */
  private known: (Used & { revision: number }) | undefined;

  constructor(
    private readonly budget: RateBudget,
    private readonly id: string,
    private perSecond: number,
  ) {}

  /** A changed rateLimit counts from the next lease (what is leased was within the old one). */
  setRate(perSecond: number): void {
    this.perSecond = perSecond;
  }

  /**
   * Waits for this instance's turn to start one delivery: 0 means start now (after a paced wait
   * of at most LOOKAHEAD_MS); otherwise nothing may start now, ask again after that many ms.
   */
  async take(): Promise<number> {
    for (;;) {
      const now = Date.now();
      const window = Math.floor(now / WINDOW_MS);
      const end = (window + 1) * WINDOW_MS;
      if (window !== this.window) {
        this.window = window;
        this.tokens = 0;
      }
      if (this.nextAt - now > LOOKAHEAD_MS) return this.nextAt - now;
      if (this.tokens > 0) {
        const at = Math.max(now, this.nextAt);
        if (at >= end) {
          this.tokens = 0;
          this.retryAt = end;
          continue;
        }
        this.tokens--;
        this.nextAt = at + this.interval;
        if (at > now) await new Promise((resolve) => setTimeout(resolve, at - now));
        // A late timer (a busy machine) may wake in the next window, where this token is void.
        if (Date.now() < end) return 0;
        continue;
      }
      if (now < this.retryAt) return this.retryAt - now;
      await (this.leasing ??= this.lease(window).finally(() => (this.leasing = undefined)));
    }
  }

  private async lease(window: number): Promise<void> {
    const end = (window + 1) * WINDOW_MS;
    const budget = windowBudget(this.perSecond, window);
    const got = budget > 0 ? await this.leaseFromBucket(window, Math.max(1, Math.ceil(this.perSecond * CHUNK_SECONDS)), budget) : 0;
    const now = Date.now();
    if (got === "contended" || got === "unreachable") {
      this.retryAt = now + (got === "contended" ? CONTENDED_RETRY_MS : UNREACHABLE_RETRY_MS);
      return;
    }
    if (got === 0 || this.window !== window || now >= end) {
      this.retryAt = end;
      return;
    }
    this.tokens = got;
    // Spaced at 1/R, squeezed so that the last one still starts in its window.
    this.interval = Math.min(1000 / this.perSecond, (end - Math.max(now, this.nextAt)) / got);
  }

  /** Deliveries leased (0: the window's budget is spent). */
  private async leaseFromBucket(window: number, want: number, budget: number): Promise<number | "contended" | "unreachable"> {
    const { kv } = this.budget;
    for (let i = 0; i < CONFLICT_TRIES; i++) {
      try {
        const known = this.known ?? (await this.read());
        // Another instance's clock is already in a later window: this one's is over.
        if (known.w > window) return 0;
        const used = known.w === window ? known.n : 0;
        const granted = Math.min(want, budget - used);
        if (granted <= 0) return 0;
        const next: Used = { w: window, n: used + granted };
        const value = JSON.stringify(next);
        const revision = known.revision === 0 ? await kv.create(this.id, value) : await kv.update(this.id, value, known.revision);
        this.known = { ...next, revision };
        this.budget.answered();
        return granted;
      } catch (err) {
        this.known = undefined;
        if (isWrongLastSequence(err)) continue;
        this.budget.failed(err);
        return "unreachable";
      }
    }
    return "contended";
  }

  private async read(): Promise<Used & { revision: number }> {
    const entry = await this.budget.kv.get(this.id);
    if (!entry) return { w: -1, n: 0, revision: 0 };
    if (entry.operation !== "PUT") return { w: -1, n: 0, revision: entry.revision };
    return { ...entry.json<Used>(), revision: entry.revision };
  }
}
