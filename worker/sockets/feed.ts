// Where a subscribed socket's events come from: JetStream, not core NATS (DESIGN.md decision 13),
// so a subscription that starts at a sequence gets every stored event from there and then the
// live ones with no gap between the two. Each subscription reads through its own ordered consumer
// (@nats-io/jetstream): ephemeral, in memory, one replica, recreated by the client library from
// the last sequence it saw when a node fails, so its order and completeness hold across faults.
// Runtime-neutral: the connection is handed in (wsconnect in the workerd socket hub, transport-node
// on Node).
import { DeliverPolicy, jetstream, type Consumer, type ConsumerMessages, type JsMsg, type OrderedConsumerOptions } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { EVENTS_STREAM, EVENTS_SUBJECT_PREFIX, ALL_EVENTS_SUBJECT } from "../../broker/index.ts";
import type { StartFrom } from "./frames.ts";

/** One message as a subscription receives it. */
export interface FeedMessage {
  seq: number;
  subject: string;
  msg: JsMsg;
  /** When JetStream stored it (ms since the epoch), for the fan-out lag. */
  storedAtMs: number;
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
 * The NATS filter subjects that cover a set of type globs (worker/auth/keys.ts typeMatches): a
 * segment with `*` becomes `*`, a `**` becomes `>` for the rest. They may cover more than the
 * globs (`order-*.created` → `events.*.created`), so the session still checks each event's type.
 * NATS refuses overlapping filters in one consumer (2.10): a filter another one covers is dropped
 * (`order.created` beside `order.*`); filters that overlap otherwise fall back to `events.>`.
 * Where the filters are wider than the globs, "last" is the last event of the filters, which the
 * session drops when it is of another type (docs/browsers.md).
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

function startOptions(from: StartFrom): Partial<OrderedConsumerOptions> {
  if (from === "new") return { deliver_policy: DeliverPolicy.New };
  if (from === "last") return { deliver_policy: DeliverPolicy.Last };
  return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from };
}

/**
 * Ordered consumers on EVENTS over one connection of the feed's own (apart from the publisher's:
 * a slow read must not hold up acks), opened when the first subscription needs it and opened
 * again after it closed for good. `connect` is the runtime's (wsconnect or transport-node).
 */
export class JetStreamFeed implements EventFeed {
  private nc: Promise<NatsConnection> | null = null;

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
    const consumer: Consumer = await js.consumers.get(EVENTS_STREAM, { filter_subjects: subjects, ...startOptions(from) });
    let stopped = false;
    const messages: ConsumerMessages = await consumer.consume({
      max_messages: FEED_PULL_MESSAGES,
      callback: (msg) => {
        if (stopped) return;
        sink.event({ seq: msg.seq, subject: msg.subject, msg, storedAtMs: Math.floor(msg.info.timestampNanos / 1e6) });
      },
    });
    // The ordered consumer recreates itself through node failures; its end without a stop means
    // the connection closed for good.
    void messages.closed().then((err) => {
      if (!stopped) sink.failed(err ? err.message : "the event feed closed");
    });
    return {
      async stop() {
        stopped = true;
        await messages.close().catch(() => undefined);
      },
    };
  }

  /** Closes the connection (every feed on it ends); the next open connects again. */
  async close(): Promise<void> {
    const nc = this.nc;
    this.nc = null;
    const current = nc && (await nc.catch(() => null));
    await current?.close().catch(() => undefined);
  }
}
