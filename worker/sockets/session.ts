// One browser socket once it is open (docs/browsers.md): its frames in, its answers and events
// out — publishes (publish.ts: the HTTPS path's steps, acked after JetStream's) under a per-socket
// bound, and subscriptions read from the JetStream feed (feed.ts). Runtime-neutral: the socket
// itself is a SocketTransport, handed in by the workerd socket hub or the Node edge.
import { eventTypeOfSubject } from "../../broker/index.ts";
import { globsOutside, typeMatches, type ApiKeyEntry } from "../auth/keys.ts";
import type { BrowserTokenClaims } from "../auth/browser-tokens.ts";
import type { RegistryView } from "../events/schema-registry.ts";
import type { EdgeConfig } from "../config.ts";
import type { RateLimiter } from "../auth/authenticate.ts";
import { parseJson, parseJsonText } from "../http/request-limits.ts";
import { EdgeError, makeProblem, type Problem } from "../http/problems.ts";
import type { Publisher } from "../publish/publisher.ts";
import type { EventFeed, FeedHandle, FeedMessage } from "./feed.ts";
import { filterSubjects, renderEvent } from "./feed.ts";
import { publishFrame } from "./publish.ts";
import * as frames from "./frames.ts";
import type { Rid, StartFrom, Subprotocol } from "./frames.ts";
import type { SocketStats } from "./stats.ts";

/** What the socket does with its peer: the runtime's WebSocket, reduced to what a session needs. */
export interface SocketTransport {
  send(text: string): void;
  close(code: number, reason: string): void;
  /** Bytes queued and not yet sent, where the runtime tells (Node's ws does; workerd does not). */
  bufferedBytes?(): number;
}

/** What the upgrade established: who the socket speaks for and in which subprotocol. */
export interface SocketGrant {
  claims: BrowserTokenClaims;
  protocol: Subprotocol;
}

export interface SessionLimits {
  maxFrameBytes: number;
  maxInFlight: number;
  maxBufferedBytes: number;
  maxJsonDepth: number;
  retryAfterSeconds: number;
}

/** A socket's limits from the edge's config: a frame is held to one event's size (MAX_EVENT_BYTES). */
export function sessionLimits(config: EdgeConfig): SessionLimits {
  return {
    maxFrameBytes: config.maxEventBytes,
    maxInFlight: config.wsMaxInFlight,
    maxBufferedBytes: config.wsMaxBufferedBytes,
    maxJsonDepth: config.maxJsonDepth,
    retryAfterSeconds: config.retryAfterSeconds,
  };
}

export interface SessionDeps {
  registry: RegistryView;
  publisher: Publisher;
  feed: EventFeed;
  limits: SessionLimits;
  stats: SocketStats;
  now: () => number;
  /** Told whenever the socket's number of open subscriptions changes (the workerd hub records it). */
  onSubscriptions?: (count: number) => void;
  /**
   * The per-key token bucket of POST /v1/events (auth/authenticate.ts), one per process (Node) or
   * socket hub (workerd): a socket's publishes take from its API key's bucket, keyed by the key's
   * name, as the key's own requests do from theirs.
   */
  limiter: RateLimiter;
}

interface Subscription {
  rid: Rid;
  types: string[];
  /** The last seq sent to the client; 0 before the first. */
  lastSeq: number;
  handle?: FeedHandle;
  /** Events that arrived before the `subscribed` frame went out, sent right after it. */
  early: FeedMessage[] | null;
  /**
   * from "last": the feed first replays the last event of each subject its filters match; the
   * newest of those whose type matches is held here and sent when the feed has caught up.
   * undefined once that phase is over (or for any other start).
   */
  last?: { candidate: FeedMessage | null };
  ended: boolean;
}

export class SocketSession {
  private readonly key: ApiKeyEntry;
  private readonly subscriptions = new Map<Rid, Subscription>();
  private readonly publishing = new Set<Rid>();
  /** cloudevents.json publishes have no rid of their own: counted apart. */
  private anonymousInFlight = 0;
  private closed = false;

  constructor(
    private readonly transport: SocketTransport,
    private readonly grant: SocketGrant,
    private readonly deps: SessionDeps,
  ) {
    // The token's grant as the key shape the HTTPS path checks scopes and rates against; the
    // bucket is the key's name's (a token does not carry the key's hash).
    this.key = { name: grant.claims.sub, sha256: `token:${grant.claims.sub}`, types: grant.claims.publish, subscribe: grant.claims.subscribe };
    deps.stats.opened(grant.protocol);
  }

  /** The first frame: who the socket is, until when, and its limits. */
  start(): void {
    this.send(
      frames.readyFrame({
        protocol: this.grant.protocol,
        sub: this.grant.claims.sub,
        expiresAt: new Date(this.grant.claims.exp * 1000).toISOString(),
        maxFrameBytes: this.deps.limits.maxFrameBytes,
        maxInFlight: this.deps.limits.maxInFlight,
      }),
    );
  }

  async onMessage(data: string | ArrayBuffer | Uint8Array): Promise<void> {
    if (this.closed) return;
    this.deps.stats.frameIn();
    if (frames.frameTooBig(data, this.deps.limits.maxFrameBytes)) {
      this.close(frames.CLOSE.TOO_BIG, `a frame is at most ${this.deps.limits.maxFrameBytes} bytes`);
      return;
    }
    if (this.expired()) return;
    const text = typeof data === "string" ? data : null;
    if (this.grant.protocol === frames.SUBPROTOCOLS.CLOUDEVENTS) return this.publishCloudEvent(data);
    if (text === null) {
      this.refuse(undefined, new EdgeError("MALFORMED_FRAME", "jetgate.v1 frames are JSON text frames, not binary"));
      return;
    }
    // One level more than an HTTPS body: the event sits inside the frame.
    const frame = frames.readClientFrame(text, (t) => parseJsonText(t, this.deps.limits.maxJsonDepth + 1));
    if (frames.isRefusal(frame)) return this.refuse(frame.rid, frame.error);
    switch (frame.op) {
      case "ping":
        this.send(frames.pongFrame(frame.rid));
        return;
      case "publish":
        return this.publish(frame.rid, frame.event);
      case "subscribe":
        return this.subscribe(frame.rid, frame.types, frame.from);
      case "unsubscribe":
        return this.unsubscribe(frame.rid);
    }
  }

  /** The peer closed, or the runtime dropped the socket: stop every feed. */
  onClose(code: number): void {
    if (this.closed) return;
    this.closed = true;
    this.deps.stats.closed(code, this.grant.protocol);
    this.stopFeeds();
  }

  /** Each subscription's last seq sent, for a log line or a hub that must resume it elsewhere. */
  positions(): Array<{ rid: Rid; types: string[]; lastSeq: number }> {
    return [...this.subscriptions.values()].map(({ rid, types, lastSeq }) => ({ rid, types, lastSeq }));
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.onClose(code);
    try {
      this.transport.close(code, reason);
    } catch {
      // Already closing on the runtime's side: nothing more to tell the peer.
    }
  }

  private stopFeeds(): void {
    for (const sub of this.subscriptions.values()) {
      sub.ended = true;
      void sub.handle?.stop();
    }
    this.subscriptions.clear();
    this.deps.onSubscriptions?.(0);
  }

  private send(text: string): void {
    if (this.closed) return;
    try {
      this.transport.send(text);
      this.deps.stats.frameOut();
    } catch {
      // The socket went away under us; its close event ends the session.
    }
  }

  private refuse(rid: Rid | undefined, err: unknown): void {
    const problem: Problem = err instanceof EdgeError ? err.toProblem() : makeProblem("INTERNAL", "the edge failed on this frame");
    this.send(frames.problemFrame(rid, problem));
  }

  /** A spent token ends the socket at its first use after expiry (1008), so no timer is needed. */
  private expired(): boolean {
    if (this.deps.now() < this.grant.claims.exp * 1000) return false;
    this.close(frames.CLOSE.TOKEN_EXPIRED, "token expired: reconnect with a fresh token");
    return true;
  }

  private ridInUse(rid: Rid): boolean {
    return this.publishing.has(rid) || this.subscriptions.has(rid);
  }

  private inFlight(): number {
    return this.publishing.size + this.anonymousInFlight;
  }

  /** Takes a token from the key's bucket, or answers rate-limited (429, retryAfter) and says no. */
  private withinRate(rid: Rid | undefined): boolean {
    try {
      this.deps.limiter.take(this.key);
      return true;
    } catch (err) {
      this.deps.stats.published(err instanceof EdgeError ? err.code : "INTERNAL");
      this.refuse(rid, err);
      return false;
    }
  }

  private backpressure(): EdgeError {
    return new EdgeError("BACKPRESSURE", `${this.deps.limits.maxInFlight} publishes on this socket await their ack; wait for one`, {
      limit: this.deps.limits.maxInFlight,
    });
  }

  private async publish(rid: Rid, value: unknown): Promise<void> {
    if (this.ridInUse(rid)) return this.refuse(rid, new EdgeError("MALFORMED_FRAME", `rid ${JSON.stringify(rid)} is in use on this socket`));
    if (this.inFlight() >= this.deps.limits.maxInFlight) return this.refuse(rid, this.backpressure());
    if (!this.withinRate(rid)) return;
    this.publishing.add(rid);
    try {
      await this.publishEvent(rid, value);
    } finally {
      this.publishing.delete(rid);
    }
  }

  /** cloudevents.json: the message is the event; its answer carries the event's id as rid. */
  private async publishCloudEvent(data: string | ArrayBuffer | Uint8Array): Promise<void> {
    let value: unknown;
    try {
      const depth = this.deps.limits.maxJsonDepth;
      value = typeof data === "string" ? parseJsonText(data, depth) : parseJson(data instanceof Uint8Array ? data : new Uint8Array(data), depth);
    } catch (err) {
      return this.refuse(undefined, err);
    }
    const id = (value as { id?: unknown } | null)?.id;
    const rid = typeof id === "string" && id.length > 0 && id.length <= 256 ? id : undefined;
    if (this.inFlight() >= this.deps.limits.maxInFlight) return this.refuse(rid, this.backpressure());
    if (!this.withinRate(rid)) return;
    this.anonymousInFlight++;
    try {
      await this.publishEvent(rid, value);
    } finally {
      this.anonymousInFlight--;
    }
  }

  private async publishEvent(rid: Rid | undefined, value: unknown): Promise<void> {
    const { registry, publisher, limits, stats } = this.deps;
    this.send(await publishFrame({ key: this.key, registry, publisher, limits, stats }, rid, value));
  }

  private async subscribe(rid: Rid, types: string[], from: StartFrom): Promise<void> {
    if (this.ridInUse(rid)) return this.refuse(rid, new EdgeError("MALFORMED_FRAME", `rid ${JSON.stringify(rid)} is in use on this socket`));
    const scope = this.grant.claims.subscribe;
    const outside = globsOutside(types, scope);
    if (outside.length > 0) {
      const held = scope.length > 0 ? `its subscribe scope is ${scope.join(", ")}` : "it has no subscribe scope";
      return this.refuse(rid, new EdgeError("FORBIDDEN_SCOPE", `the token may not subscribe to ${outside.join(", ")}: ${held}`, { field: "types", outside }));
    }
    const sub: Subscription = { rid, types, lastSeq: 0, early: [], ended: false };
    if (from === "last") sub.last = { candidate: null };
    this.subscriptions.set(rid, sub);
    this.deps.onSubscriptions?.(this.subscriptions.size);
    let handle: FeedHandle;
    try {
      handle = await this.deps.feed.open(filterSubjects(types), from, {
        event: (message) => this.deliver(sub, message),
        failed: (reason) => this.feedFailed(sub, reason),
      });
    } catch (err) {
      this.subscriptions.delete(rid);
      this.deps.onSubscriptions?.(this.subscriptions.size);
      const detail = `the event feed could not start: ${err instanceof Error ? err.message : String(err)}`;
      return this.refuse(rid, new EdgeError("BROKER_UNAVAILABLE", detail, { retryAfter: this.deps.limits.retryAfterSeconds }));
    }
    sub.handle = handle;
    if (sub.ended) {
      // Unsubscribed or closed while the feed was starting.
      void handle.stop();
      return;
    }
    this.send(frames.subscribedFrame(rid, types, handle.startSeq));
    const early = sub.early ?? [];
    sub.early = null;
    for (const message of early) this.deliver(sub, message);
  }

  private unsubscribe(rid: Rid): void {
    const sub = this.subscriptions.get(rid);
    if (!sub) return this.refuse(rid, new EdgeError("UNKNOWN_SUBSCRIPTION", `no open subscription has rid ${JSON.stringify(rid)}`));
    sub.ended = true;
    this.subscriptions.delete(rid);
    this.deps.onSubscriptions?.(this.subscriptions.size);
    void sub.handle?.stop();
    this.send(frames.unsubscribedFrame(rid));
  }

  /** One event from the feed: to the client in stream order, if its type matches (and, from "last", once caught up). */
  private deliver(sub: Subscription, message: FeedMessage): void {
    if (sub.ended || this.closed) return;
    if (sub.early) {
      sub.early.push(message);
      return;
    }
    if (message.seq <= sub.lastSeq || this.expired()) return;
    const matches = sub.types.some((glob) => typeMatches(glob, eventTypeOfSubject(message.subject)));
    if (sub.last) {
      if (matches) sub.last.candidate = message;
      if (message.pending > 0) return;
      const last = sub.last.candidate;
      sub.last = undefined;
      if (last) this.sendEvent(sub, last);
      return;
    }
    if (matches) this.sendEvent(sub, message);
  }

  /** One event frame; a socket whose output backs up past the bound is closed with 1013. */
  private sendEvent(sub: Subscription, message: FeedMessage): void {
    this.send(frames.eventFrame(sub.rid, message.seq, message.eventJson?.() ?? renderEvent(message)));
    sub.lastSeq = message.seq;
    this.deps.stats.fanoutLag(this.deps.now() - message.storedAtMs);
    const buffered = this.transport.bufferedBytes?.() ?? 0;
    if (buffered > this.deps.limits.maxBufferedBytes) {
      this.deps.stats.slowConsumer();
      // A close reason is at most 123 bytes (RFC 6455 §5.5): one subscription's resume point fits.
      const resume = this.subscriptions.size === 1 ? `resume from ${sub.lastSeq + 1}` : "resume each subscription from its last seq + 1";
      this.close(frames.CLOSE.SLOW_CONSUMER, `slow consumer; ${resume}`);
    }
  }

  private feedFailed(sub: Subscription, reason: string): void {
    if (sub.ended || this.closed) return;
    this.close(frames.CLOSE.INTERNAL, `event feed lost (${reason.slice(0, 60)}); resume`);
  }
}
