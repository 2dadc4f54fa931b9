// Where a subscribed socket's events come from: JetStream, not core NATS (DESIGN.md decision 13),
// so a subscription that starts at a sequence gets every stored event from there and then the
// live ones with no gap between the two. It reads through an ordered consumer (ordered-reader.ts):
// subscriptions on the same filters that start at or after what a shared tail holds join it
// (shared-tail.ts); any other start gets a consumer of its own. Runtime-neutral: the connection is
// handed in (wsconnect in the workerd socket hub, transport-node on Node).
import { DeliverPolicy, jetstream, type JetStreamClient, type JsMsg, type OrderedConsumerOptions } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { EVENTS_STREAM, filterSubjects } from "../../broker/index.ts";
import type { StartFrom } from "./frames.ts";
import { readOrdered, RenderedEvents } from "./ordered-reader.ts";
import { SharedTail } from "./shared-tail.ts";

export { renderEvent } from "./ordered-reader.ts";
export { filterSubjects };

/** One message as a subscription receives it. */
export interface FeedMessage {
  seq: number;
  subject: string;
  msg: JsMsg;
  /** When JetStream stored it (ms since the epoch), for the fan-out lag. */
  storedAtMs: number;
  /** Messages the consumer had left to deliver after this one (0: caught up). */
  pending: number;
  /**
   * The structured CloudEvent's JSON text (renderEvent), shared by every subscription of the feed
   * that receives this stored message; absent, the session renders it itself.
   */
  eventJson?: () => string;
}

export interface FeedSink {
  event(message: FeedMessage): void;
  /** The feed ended for good (connection closed, consumer impossible); the socket should resume elsewhere. */
  failed(reason: string): void;
}

export interface FeedHandle {
  stop(): Promise<void>;
  /** The stream sequence the subscription starts at, when its start resolved to one (not for "last"). */
  startSeq?: number;
}

export interface EventFeed {
  open(subjects: string[], from: StartFrom, sink: FeedSink): Promise<FeedHandle>;
}

/**
 * "new" is asked for as the sequence after the stream's last, not as DeliverPolicy.New: nats.js
 * keeps an ordered consumer's resume point from its opt_start_seq, which New leaves unset, so an
 * ordered consumer recreated before its first message (its node restarted: it lives in memory on
 * one node) started again at seq 1 and sent the subscriber the whole stream.
 */
async function startOptions(js: JetStreamClient, from: StartFrom): Promise<Partial<OrderedConsumerOptions>> {
  // The last message of every subject the filters match, then live: the session keeps the last
  // of those whose type its globs match (filters can be wider than globs, so Last alone could
  // start at another type's event and send nothing).
  if (from === "last") return { deliver_policy: DeliverPolicy.LastPerSubject };
  if (from === "new") {
    const info = await (await js.jetstreamManager(false)).streams.info(EVENTS_STREAM);
    return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: info.state.last_seq + 1 };
  }
  return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from };
}

/**
 * Ordered consumers on EVENTS over one connection of the feed's own (apart from the publisher's:
 * a slow read must not hold up acks), opened when the first subscription needs it and opened
 * again after it closed for good. `connect` is the runtime's (wsconnect or transport-node).
 */
export class JetStreamFeed implements EventFeed {
  private nc: Promise<NatsConnection> | null = null;
  private readonly rendered = new RenderedEvents();
  /** Live tails by their filters; a promise while the tail's consumer is being created. */
  private readonly tails = new Map<string, Promise<SharedTail>>();
  /** Consumer deletes under way, which close() lets finish. */
  private readonly stopping = new Set<Promise<void>>();

  constructor(private readonly connect: () => Promise<NatsConnection>) {}

  private async connection(): Promise<NatsConnection> {
    const current = this.nc && (await this.nc.catch(() => null));
    if (current && !current.isClosed()) return current;
    const opening = this.connect();
    this.nc = opening;
    // A failed connect is forgotten, so the next subscription tries again.
    opening.catch(() => {
      if (this.nc === opening) this.nc = null;
    });
    return opening;
  }

  async open(subjects: string[], from: StartFrom, sink: FeedSink): Promise<FeedHandle> {
    const js = jetstream(await this.connection());
    // Resolved once: a replacement consumer (ordered-reader.ts) starts where the first would have.
    const start = await startOptions(js, from);
    const seq = start.deliver_policy === DeliverPolicy.StartSequence ? start.opt_start_seq : undefined;
    if (seq !== undefined) {
      const key = subjects.join(" ");
      // Live subscriptions start the tail of their filters when there is none. No await between
      // the look-up and the start, so subscriptions arriving together find the same tail.
      const starting = this.tails.get(key) ?? (from === "new" ? this.startTail(js, key, subjects, seq) : undefined);
      const tail = await starting?.catch(() => undefined);
      if (tail?.covers(seq)) return { ...tail.join(seq, sink), startSeq: seq };
    }
    const reader = await readOrdered(js, { filter_subjects: subjects, ...start }, { message: (m) => sink.event(m), failed: (r) => sink.failed(r) }, this.rendered);
    return { stop: () => this.track(reader.stop()), startSeq: seq };
  }

  private startTail(js: JetStreamClient, key: string, subjects: string[], seq: number): Promise<SharedTail> {
    const tail = new SharedTail(seq, (ended, stopping) => {
      if (this.tails.get(key) === starting) this.tails.delete(key);
      void this.track(stopping);
    });
    const starting = (async () => {
      const options = { filter_subjects: subjects, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: seq };
      tail.started(await readOrdered(js, options, tail, this.rendered));
      return tail;
    })();
    this.tails.set(key, starting);
    starting.catch(() => {
      if (this.tails.get(key) === starting) this.tails.delete(key);
    });
    return starting;
  }

  private track(stopping: Promise<void>): Promise<void> {
    this.stopping.add(stopping);
    void stopping.finally(() => this.stopping.delete(stopping));
    return stopping;
  }

  /** Closes the connection (every feed on it ends); the next open connects again. */
  async close(): Promise<void> {
    const nc = this.nc;
    this.nc = null;
    // Feeds stopped just before (the socket hub closes the connection as its last socket's
    // subscriptions stop) delete their consumers first, over this connection.
    await Promise.allSettled([...this.stopping]);
    const current = nc && (await nc.catch(() => null));
    await current?.close().catch(() => undefined);
  }
}
