// One ordered consumer on EVENTS, read into a callback: what a subscription, or a tail shared by
// several (shared-tail.ts), reads from. Ephemeral, in memory, one replica; the client library
// recreates it from the last sequence it saw when a node fails, so order and completeness hold
// across faults. Stopping it deletes it on the server.
import type { Consumer, ConsumerMessages, JetStreamClient, OrderedConsumerOptions } from "@nats-io/jetstream";
import { decodeEvent, EVENTS_STREAM, structuredEventJson } from "../../broker/index.ts";
import type { FeedMessage } from "./feed.ts";

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
export class RenderedEvents {
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

export interface ReaderEvents {
  message(message: FeedMessage): void;
  /** The reading ended for good (the connection closed, a replacement could not start). */
  failed(reason: string): void;
}

export interface Reader {
  /** Stops reading and deletes the consumer; resolves when the delete is done. */
  stop(): Promise<void>;
}

/**
 * Starts reading `options` (filters and a resolved start) into `events`. Resolves once the first
 * consumer exists and its first pull is sent. A consumer whose first pull met no responders is
 * replaced at once with the same options (FIRST_PULL_RETRIES), so nothing is skipped or repeated.
 */
export async function readOrdered(js: JetStreamClient, options: Partial<OrderedConsumerOptions>, events: ReaderEvents, rendered: RenderedEvents): Promise<Reader> {
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
        message.eventJson = () => rendered.get(message, storedAtNanos);
        events.message(message);
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
          if (!stopped) events.failed(`the event feed could not restart: ${err instanceof Error ? err.message : String(err)}`);
        }
        return;
      }
    })();
    // The ordered consumer recreates itself through node failures; its end without a stop (or a
    // replacement) means the connection closed for good.
    void messages.closed().then((err) => {
      if (!stopped && current === reading) events.failed(err ? err.message : "the event feed closed");
    });
  };
  await begin(0);
  return {
    stop() {
      stopped = true;
      return current ? retire(current) : Promise.resolve();
    },
  };
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
