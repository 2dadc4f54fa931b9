// The subscriptions of one client, across sockets. Each remembers the last stream sequence it
// handed to its callback, so a new socket asks for `from: lastSeq + 1` (docs/browsers.md,
// "Resuming without loss"): no gap, and no repeat. An event at or below lastSeq is dropped here
// too, in case an edge ever sends one twice around a resume.
import { ProblemError } from "./errors.ts";
import type { CloudEvent, From, Problem, SubscribeFrame } from "./frames.ts";

export type EventHandler = (event: CloudEvent, seq: number) => void;

export interface SubscribeOptions {
  /** Where to start the first time (default `"new"`); after a reconnect it resumes after lastSeq. */
  from?: From;
  /** The edge refused the subscription (e.g. `forbidden-scope`), now or on a resume; it is over. */
  onError?: (problem: Problem) => void;
}

export interface Subscription {
  readonly rid: string;
  readonly types: string[];
  /** The stream sequence of the last event handed to the callback; 0 before the first. */
  readonly lastSeq: number;
  /** Resolves with the types the edge confirmed, the first time; rejects with a ProblemError. */
  readonly ready: Promise<string[]>;
  /** Stops the events at once; the edge is told if the socket is open. Idempotent. */
  unsubscribe(): void;
}

export class ClientSubscription implements Subscription {
  lastSeq = 0;
  /** Where the edge said the subscription starts ("new" resolved): a resume before any event starts there, not at a later "new". */
  private startSeq: number | undefined;
  /** Subscribes the edge refused for a passing reason (5xx, 429) since it last confirmed one: the backoff's attempt. */
  retries = 0;
  readonly ready: Promise<string[]>;
  private settle!: { resolve(types: string[]): void; reject(err: Error): void };
  private active = true;

  constructor(
    readonly rid: string,
    readonly types: string[],
    private readonly options: SubscribeOptions,
    private readonly handler: EventHandler,
    /** Removes it from the client; `tellEdge` false when the edge never opened it. */
    private readonly onUnsubscribe: (sub: ClientSubscription, tellEdge: boolean) => void,
  ) {
    this.ready = new Promise<string[]>((resolve, reject) => (this.settle = { resolve, reject }));
    // A caller that does not await `ready` must not get an unhandled rejection for it.
    this.ready.catch(() => {});
  }

  /** The subscribe frame for a new socket: resume after the last event seen, else where it started, else the first `from`. */
  frame(): SubscribeFrame {
    const from = this.lastSeq > 0 ? this.lastSeq + 1 : (this.startSeq ?? this.options.from ?? "new");
    return { op: "subscribe", rid: this.rid, types: this.types, from };
  }

  confirmed(types: string[], startSeq?: number): void {
    this.retries = 0;
    if (this.lastSeq === 0 && this.startSeq === undefined && startSeq !== undefined) this.startSeq = startSeq;
    this.settle.resolve(types);
  }

  refused(problem: Problem): void {
    if (!this.active) return;
    this.active = false;
    this.onUnsubscribe(this, false);
    this.settle.reject(new ProblemError(problem));
    this.options.onError?.(problem);
  }

  deliver(seq: number, event: CloudEvent): void {
    if (!this.active || !Number.isSafeInteger(seq) || seq <= this.lastSeq) return;
    this.lastSeq = seq;
    try {
      this.handler(event, seq);
    } catch (err) {
      // The handler's own bug: surface it as an uncaught error, without breaking the socket's
      // frame loop or the other subscriptions (as an EventTarget does with a throwing listener).
      setTimeout(() => {
        throw err;
      });
    }
  }

  /** The client was closed: nothing more will come. */
  ended(err: Error): void {
    this.active = false;
    this.settle.reject(err);
  }

  unsubscribe(): void {
    if (!this.active) return;
    this.active = false;
    this.onUnsubscribe(this, true);
  }
}
