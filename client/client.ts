// JetgateClient: one WebSocket to the edge's GET /v1/ws (docs/browsers.md), kept open across
// drops. Each connection fetches a fresh token, waits for the `ready` frame, then re-subscribes
// every subscription after its last seq and re-sends every unanswered publish, so a page that
// loses its socket loses no event in either direction.
import { backoffDelay, DEFAULT_BACKOFF, type Backoff } from "./backoff.ts";
import { ClientError } from "./errors.ts";
import { CLOSE_CODES, PROTOCOL, TOKEN_PROTOCOL_PREFIX, type Ack, type CloudEvent, type Problem, type ReadyFrame, type ServerFrame } from "./frames.ts";
import { randomEventId } from "./ids.ts";
import { Outbox } from "./outbox.ts";
import { ClientSubscription, type EventHandler, type SubscribeOptions, type Subscription } from "./subscriptions.ts";
import { CLIENT_DEFAULTS, type ConnectionStatus, type EventInput, type EventMap, type JetgateClientOptions, type StatusChange } from "./options.ts";
import { closeQuietly, detach, type SocketLike, type WebSocketConstructor } from "./socket.ts";

/** Close codes after which a reconnect cannot help (docs/browsers.md, "Close codes"). */
const FINAL_CLOSE_CODES: ReadonlySet<number> = new Set([CLOSE_CODES.NORMAL, CLOSE_CODES.TOO_BIG]);
/** The client gives a socket up with an application code (RFC 6455 §7.4.2: 4000–4999 are private use). */
const GIVE_UP_CODE = 4000;

export class JetgateClient<Events extends object = EventMap> {
  private readonly outbox = new Outbox();
  private readonly subscriptions = new Map<string, ClientSubscription>();
  private readonly backoff: Backoff;
  private readonly WebSocketClass: WebSocketConstructor;
  private nextSubscription = 1;
  private socket: SocketLike | undefined;
  private ready: ReadyFrame | undefined;
  private attempt = 0;
  private closed = false;
  private timers: ReturnType<typeof setTimeout>[] = [];
  private lastFrameAt = 0;
  /** When the keep-alive's last ping went out. */
  private pingSentAt: number | undefined;
  private current: ConnectionStatus = "connecting";

  constructor(private readonly options: JetgateClientOptions) {
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    const ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!ctor) throw new TypeError("no WebSocket here: pass one as the WebSocket option (on Node 20, the ws package)");
    this.WebSocketClass = ctor;
    void this.connect();
  }

  get status(): ConnectionStatus {
    return this.current;
  }

  /** The current connection's `ready` frame (who, until when, the edge's limits); undefined between connections. */
  get session(): ReadyFrame | undefined {
    return this.ready;
  }

  /** Publishes not answered yet, waiting or in flight. */
  get unanswered(): number {
    return this.outbox.unanswered;
  }

  /**
   * Publishes one event: resolves once JetStream stored it, rejects with a ProblemError when the
   * edge refused it, or a ClientError (CLOSED, FRAME_TOO_LARGE). Survives reconnects.
   */
  publish<T extends keyof Events & string>(event: EventInput<T, Events[T]>): Promise<Ack<T>> {
    if (this.closed) return Promise.reject(new ClientError("CLOSED", "the client is closed"));
    const complete = { ...event, specversion: event.specversion ?? "1.0", id: event.id ?? randomEventId() } as CloudEvent;
    const source = event.source ?? this.options.source;
    if (source !== undefined) complete.source = source;
    const acked = this.outbox.add(complete) as Promise<Ack<T>>;
    this.pump();
    return acked;
  }

  /** Receives every event whose type matches `types` (globs as in API key scopes), in stream order. */
  subscribe(types: string | string[], options: SubscribeOptions, onEvent: EventHandler): Subscription {
    const rid = `s${this.nextSubscription++}`;
    const list = typeof types === "string" ? [types] : [...types];
    const sub = new ClientSubscription(rid, list, options, onEvent, (s, tellEdge) => this.dropSubscription(s, tellEdge));
    if (this.closed) {
      sub.ended(new ClientError("CLOSED", "the client is closed"));
      return sub;
    }
    this.subscriptions.set(rid, sub);
    if (this.ready) this.send(JSON.stringify(sub.frame()));
    return sub;
  }

  /** Closes for good: the socket with 1000, every unanswered publish rejected with CLOSED. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearTimers();
    const socket = this.socket;
    this.socket = undefined;
    this.ready = undefined;
    if (socket) {
      detach(socket);
      closeQuietly(socket, CLOSE_CODES.NORMAL, "client closed");
    }
    this.end("the client was closed");
    this.setStatus({ status: "closed", code: CLOSE_CODES.NORMAL, reason: "client closed" });
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    this.setStatus({ status: "connecting", attempt: this.attempt });
    const timeoutMs = this.options.connectTimeoutMs ?? CLIENT_DEFAULTS.connectTimeoutMs;
    let token: string;
    try {
      // A fetcher that never answers must not leave the client waiting for good.
      token = await withTimeout(this.options.token(), timeoutMs, "the token fetcher did not answer in time");
    } catch (error) {
      this.retry({ error });
      return;
    }
    if (this.closed) return;
    let socket: SocketLike;
    try {
      socket = new this.WebSocketClass(this.options.url, [PROTOCOL, TOKEN_PROTOCOL_PREFIX + token]);
    } catch (error) {
      this.retry({ error });
      return;
    }
    this.socket = socket;
    socket.onmessage = (event) => {
      if (socket === this.socket) this.onFrame(event.data);
    };
    socket.onclose = (event) => {
      if (socket === this.socket) this.lost(event.code, event.reason);
    };
    // Every error is followed by a close event, which is where the client acts.
    socket.onerror = () => {};
    this.later(timeoutMs, () => {
      if (socket === this.socket && !this.ready) this.giveUp(socket, "no ready frame in time");
    });
  }

  private onFrame(data: unknown): void {
    this.lastFrameAt = Date.now();
    let frame: ServerFrame;
    try {
      frame = JSON.parse(String(data)) as ServerFrame;
    } catch {
      return; // The edge sends JSON only; anything else is not for this client.
    }
    switch (frame.op) {
      case "ready":
        // Once a socket: a second one would re-send every subscribe, and the edge refuse them as rids in use.
        if (!this.ready) this.opened(frame);
        return;
      case "ack":
        this.outbox.acked(frame.rid, frame);
        return this.pump();
      case "problem":
        if (this.outbox.refused(frame.rid, frame.problem)) return this.pump();
        return this.subscriptionRefused(String(frame.rid), frame.problem);
      case "subscribed":
        this.subscriptions.get(String(frame.rid))?.confirmed(frame.types, frame.from);
        return;
      case "event":
        this.subscriptions.get(String(frame.rid))?.deliver(frame.seq, frame.event);
        return;
    }
  }

  /**
   * A refused subscribe: final for a 4xx (the scope, the frame), but a 5xx or 429 is the edge's
   * passing trouble (`broker-unavailable` while its event feed starts, after a restart say), so
   * the same subscribe goes again after the problem's `retryAfter` or the backoff.
   */
  private subscriptionRefused(rid: string, problem: Problem): void {
    const sub = this.subscriptions.get(rid);
    if (!sub) return;
    if (problem.status < 500 && problem.status !== 429) return sub.refused(problem);
    const retryAfter = typeof problem.retryAfter === "number" ? problem.retryAfter * 1000 : undefined;
    const delay = Math.min(this.backoff.maxMs, retryAfter ?? backoffDelay(this.backoff, sub.retries++));
    const socket = this.socket;
    this.later(delay, () => {
      if (socket === this.socket && this.ready && this.subscriptions.get(rid) === sub) this.send(JSON.stringify(sub.frame()));
    });
  }

  private opened(ready: ReadyFrame): void {
    this.ready = ready;
    this.attempt = 0;
    this.clearTimers();
    this.setStatus({ status: "open", ready });
    for (const sub of this.subscriptions.values()) this.send(JSON.stringify(sub.frame()));
    this.pump();
    this.keepAlive();
  }

  /**
   * Pings when the socket has been quiet for an interval, and gives it up when no frame at all
   * (the pong or any other) came back within the next one: a half-open TCP connection (a laptop
   * that slept, a NAT that forgot) otherwise looks open for minutes.
   */
  private keepAlive(): void {
    const interval = this.options.pingIntervalMs ?? CLIENT_DEFAULTS.pingIntervalMs;
    if (interval <= 0) return;
    const socket = this.socket;
    const tick = () => {
      if (socket !== this.socket || !socket) return;
      const now = Date.now();
      if (this.pingSentAt !== undefined && this.lastFrameAt < this.pingSentAt) {
        if (now - this.pingSentAt >= interval) return this.giveUp(socket, "no answer to ping");
      } else if (now - this.lastFrameAt >= interval) {
        this.pingSentAt = now;
        this.send(JSON.stringify({ op: "ping" }));
      }
      this.later(interval, tick);
    };
    this.lastFrameAt = Date.now();
    this.pingSentAt = undefined;
    this.later(interval, tick);
  }

  private pump(): void {
    const ready = this.ready;
    if (!ready) return;
    this.outbox.pump({ maxInFlight: ready.maxInFlight, maxFrameBytes: ready.maxFrameBytes, send: (text) => this.send(text) });
  }

  private send(text: string): void {
    try {
      this.socket?.send(text);
    } catch {
      // A socket closing under us: what was sent on it is re-sent on the next one.
    }
  }

  /** The client's own decision that a socket is dead: it does not wait for the close handshake. */
  private giveUp(socket: SocketLike, reason: string): void {
    detach(socket);
    closeQuietly(socket, GIVE_UP_CODE, reason);
    this.lost(GIVE_UP_CODE, reason);
  }

  private lost(code: number, reason: string): void {
    const wasReady = this.ready !== undefined;
    this.socket = undefined;
    this.ready = undefined;
    this.clearTimers();
    this.outbox.requeueInFlight();
    if (this.closed) return;
    if (FINAL_CLOSE_CODES.has(code)) {
      this.closed = true;
      this.end(`the edge closed the connection (${code}${reason ? ` ${reason}` : ""})`);
      this.setStatus({ status: "closed", code, reason });
      return;
    }
    // A token that ran out on a working connection is expected: a fresh one at once.
    if (wasReady && code === CLOSE_CODES.TOKEN_EXPIRED) return this.retry({ code, reason }, 0);
    this.retry({ code, reason });
  }

  private retry(why: Pick<StatusChange, "code" | "reason" | "error">, delay = backoffDelay(this.backoff, this.attempt)): void {
    if (this.closed) return;
    this.attempt++;
    this.setStatus({ status: "reconnecting", attempt: this.attempt, retryInMs: delay, ...why });
    this.later(delay, () => void this.connect());
  }

  private end(detail: string): void {
    const err = new ClientError("CLOSED", detail);
    this.outbox.rejectAll(err);
    for (const sub of this.subscriptions.values()) sub.ended(err);
    this.subscriptions.clear();
  }

  private dropSubscription(sub: ClientSubscription, tellEdge: boolean): void {
    if (!this.subscriptions.delete(sub.rid)) return;
    if (tellEdge && this.ready) this.send(JSON.stringify({ op: "unsubscribe", rid: sub.rid }));
  }

  private setStatus(change: StatusChange): void {
    this.current = change.status;
    this.options.onStatus?.(change);
  }

  private later(ms: number, fn: () => void): void {
    this.timers.push(setTimeout(fn, ms));
  }

  private clearTimers(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers = [];
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
