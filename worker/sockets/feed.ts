// Where a subscribed socket's events come from: JetStream, not core NATS (DESIGN.md decision 13),
// so a subscription that starts at a sequence gets every stored event from there and then the
// live ones with no gap between the two. Each subscription reads through its own ordered consumer
// (@nats-io/jetstream): ephemeral, in memory, one replica, recreated by the client library from
// the last sequence it saw when a node fails, so its order and completeness hold across faults.
// Runtime-neutral: the connection is handed in (wsconnect in the workerd socket hub, transport-node
// on Node).
import { DeliverPolicy, jetstream, type Consumer, type ConsumerMessages, type JetStreamClient, type JsMsg, type OrderedConsumerOptions } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { EVENTS_STREAM, EVENTS_SUBJECT_PREFIX, ALL_EVENTS_SUBJECT, decodeEvent, structuredEventJson } from "../../broker/index.ts";
import type { StartFrom } from "./frames.ts";

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

/** The structured CloudEvent of a stored message, as an `event` frame carries it. */
export function renderEvent(message: Pick<FeedMessage, "seq" | "subject" | "msg">): string {
  return structuredEventJson(decodeEvent(message.subject, message.msg.headers, message.msg.data, `EVENTS:${message.seq}`));
}

/**
 * How many rendered events a feed keeps. Every subscription reads through its own ordered
 * consumer, so N sockets on one type get N copies of each message; rendering one (decoding its
 * headers, hashing its webhook id, checking its data is JSON: ~12 µs for 1 KB on the bench
 * machine) was done N times. The copies of one message arrive within moments of each other, so a
 * short memory of the latest ones renders each once.
 */
const RENDERED_KEPT = 512;

/** Rendered events by stream position (seq and stored time, so a recreated stream cannot alias). */
class RenderedEvents {
  private readonly kept = new Map<string, string>();

  get(message: FeedMessage, storedAtNanos: number): string {
    const key = `${message.seq}/${storedAtNanos}/${message.subject}`;
    let json = this.kept.get(key);
    if (json === undefined) {
      json = renderEvent(message);
      this.kept.set(key, json);
      // Oldest first: a Map iterates in insertion order.
      if (this.kept.size > RENDERED_KEPT) this.kept.delete(this.kept.keys().next().value!);
    }
    return json;
  }
}

export interface FeedSink {
  event(message: FeedMessage): void;
  /** The feed ended for good (connection closed, consumer impossible); the socket should resume elsewhere. */
  failed(reason: string): void;
}

export interface FeedHandle {
  stop(): Promise<void>;
}

export interface EventFeed {
  open(subjects: string[], from: StartFrom, sink: FeedSink): Promise<FeedHandle>;
}

/** How many messages an ordered consumer asks for at once: enough to keep a busy socket fed. */
const FEED_PULL_MESSAGES = 256;

/**
 * How often nats-server tells an idle pull that it is still alive; two missed, the client library
 * checks the consumer and pulls again. Its default is half the pull's expiry (15 s), so a pull that
 * went unanswered left a subscription silent for ~30 s (seen in the fan-out bench: the socket got
 * nothing, no error, no close). At 2 s the feed recovers within ~5 s from whatever the first-pull
 * retry below does not cover, and an idle subscription costs one small message every 2 s.
 */
const FEED_IDLE_HEARTBEAT_MS = 2_000;

/**
 * An ordered consumer is created on one node of the cluster, and its first pull is sent at once
 * through the client's own node; when that node has not yet heard of the new consumer, nats-server
 * answers the pull "no responders" (503). @nats-io/jetstream 3.4 then only marks the consumer for
 * a reset at the next missed heartbeats (nats.go restarts at once: nats-io/nats.go#1827). Seen
 * here for 2–4 of 100 subscriptions opened one after another on a 3-node cluster, every time.
 * The feed replaces such a consumer at once, from the same start sequence, this many times.
 */
const FIRST_PULL_RETRIES = 5;

/**
 * The NATS filter subjects that cover a set of type globs (worker/auth/keys.ts typeMatches): a
 * segment with `*` becomes `*`, a `**` becomes `>` for the rest. They may cover more than the
 * globs (`order-*.created` → `events.*.created`), so the session still checks each event's type.
 * NATS refuses overlapping filters in one consumer (2.10): a filter another one covers is dropped
 * (`order.created` beside `order.*`); filters that overlap otherwise fall back to `events.>`.
 */
export function filterSubjects(globs: string[]): string[] {
  const unique = [...new Set(globs.map(globSubject))];
  // Distinct filters cannot cover each other both ways, so this keeps exactly the widest ones.
  const subjects = unique.filter((s, i) => !unique.some((other, j) => j !== i && subjectCovers(other, s)));
  for (let i = 0; i < subjects.length; i++) {
    for (let j = i + 1; j < subjects.length; j++) if (subjectsOverlap(subjects[i]!, subjects[j]!)) return [ALL_EVENTS_SUBJECT];
  }
  return subjects;
}

/** True when every subject `inner` matches is matched by `outer`. */
export function subjectCovers(outer: string, inner: string): boolean {
  const o = outer.split(".");
  const n = inner.split(".");
  for (let i = 0; i < o.length; i++) {
    if (o[i] === ">") return n.length > i;
    if (n[i] === undefined || n[i] === ">") return false;
    if (o[i] !== "*" && (n[i] === "*" || n[i] !== o[i])) return false;
  }
  return o.length === n.length;
}

function globSubject(glob: string): string {
  const tokens: string[] = [];
  for (const segment of glob.split(".")) {
    if (segment.includes("**")) {
      tokens.push(">");
      break;
    }
    tokens.push(segment.includes("*") ? "*" : segment);
  }
  return EVENTS_SUBJECT_PREFIX + tokens.join(".");
}

/** True when some subject matches both filters. */
export function subjectsOverlap(a: string, b: string): boolean {
  const x = a.split(".");
  const y = b.split(".");
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const s = x[i];
    const t = y[i];
    if (s === ">" || t === ">") return s !== undefined && t !== undefined;
    if (s === undefined || t === undefined) return false;
    if (s !== t && s !== "*" && t !== "*") return false;
  }
  return true;
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
  /** Feed stops under way (each deletes its consumer), which close() lets finish. */
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
    // Resolved once: a replacement consumer (FIRST_PULL_RETRIES) starts where the first one would have.
    const options: Partial<OrderedConsumerOptions> = { filter_subjects: subjects, ...(await startOptions(js, from)) };
    let stopped = false;
    let received = false;
    let current: Reading | null = null;
    const begin = async (attempt: number): Promise<void> => {
      const consumer: Consumer = await js.consumers.get(EVENTS_STREAM, options);
      const messages: ConsumerMessages = await consumer.consume({
        max_messages: FEED_PULL_MESSAGES,
        idle_heartbeat: FEED_IDLE_HEARTBEAT_MS,
        callback: (msg) => {
          if (stopped || current?.messages !== messages) return;
          received = true;
          const storedAtNanos = msg.info.timestampNanos;
          const message: FeedMessage = { seq: msg.seq, subject: msg.subject, msg, storedAtMs: Math.floor(storedAtNanos / 1e6), pending: msg.info.pending };
          message.eventJson = () => this.rendered.get(message, storedAtNanos);
          sink.event(message);
        },
      });
      const reading: Reading = { consumer, messages };
      current = reading;
      if (stopped) {
        // Stopped while this one was being created.
        await retire(reading);
        return;
      }
      void (async () => {
        for await (const status of messages.status()) {
          if (status.type !== "no_responders" || received || stopped || current !== reading || attempt >= FIRST_PULL_RETRIES) continue;
          // The first pull found no consumer: see FIRST_PULL_RETRIES.
          current = null;
          await retire(reading);
          await new Promise((resolve) => setTimeout(resolve, 10 * attempt));
          if (stopped) return;
          try {
            await begin(attempt + 1);
          } catch (err) {
            if (!stopped) sink.failed(`the event feed could not restart: ${err instanceof Error ? err.message : String(err)}`);
          }
          return;
        }
      })();
      // The ordered consumer recreates itself through node failures; its end without a stop (or
      // a replacement) means the connection closed for good.
      void messages.closed().then((err) => {
        if (!stopped && current === reading) sink.failed(err ? err.message : "the event feed closed");
      });
    };
    await begin(0);
    const stopping = this.stopping;
    return {
      stop() {
        stopped = true;
        const done = current ? retire(current) : Promise.resolve();
        stopping.add(done);
        void done.finally(() => stopping.delete(done));
        return done;
      },
    };
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

interface Reading {
  consumer: Consumer;
  messages: ConsumerMessages;
}

/**
 * Stops reading and deletes the consumer. Closing the iterator alone leaves an ordered consumer on
 * the server until its inactive threshold, which nats.js fixes at 5 minutes: every unsubscribe and
 * every closed socket would leave one behind that long. If the connection is already gone, the
 * threshold still collects it.
 */
async function retire(reading: Reading): Promise<void> {
  await reading.messages.close().catch(() => undefined);
  await reading.consumer.delete().catch(() => undefined);
}
