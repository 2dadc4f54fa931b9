// One ordered consumer shared by every subscription of a feed that reads the same filters live:
// N sockets on one type cost nats-server one consumer and one copy of each message instead of N.
// (Measured in the fan-out bench with one consumer a socket: nats-server spent ~20 µs for each
// consumer's copy, about as much as the edge spent sending it.) The tail keeps its last messages,
// so a subscription that asks for a sequence it has already passed — a socket resuming after a
// drop, or one that subscribed "new" while the tail ran ahead — is served the ones it missed from
// there, then live, with no gap and no repeat. A start before what the tail still holds gets a
// consumer of its own (feed.ts).
import type { FeedHandle, FeedMessage, FeedSink } from "./feed.ts";
import type { Reader } from "./ordered-reader.ts";

/** Messages a tail keeps for late joiners: at 200 events/s of its filters, the last ~5 s. */
const TAIL_KEPT = 1024;

export class SharedTail {
  /** The messages delivered last, oldest first. */
  private readonly kept: FeedMessage[] = [];
  /** Every message of the filters with a seq from here on that the tail delivered is in `kept`. */
  private coveredFrom: number;
  /** Each joined subscription and the first seq it asked for. */
  private readonly sinks = new Map<FeedSink, number>();
  private reader: Reader | null = null;
  private ended = false;

  constructor(
    startSeq: number,
    /** Told when the tail has no subscription left, or failed, so the feed forgets it. */
    private readonly onEnd: (tail: SharedTail, stopping: Promise<void>) => void,
  ) {
    this.coveredFrom = startSeq;
  }

  /** The reader the tail consumes; set once it started. */
  started(reader: Reader): void {
    this.reader = reader;
    if (this.ended) void reader.stop();
  }

  /** True when a subscription from `seq` can join without missing anything. */
  covers(seq: number): boolean {
    return !this.ended && seq >= this.coveredFrom;
  }

  /** Joins `sink` from `fromSeq`: what the tail kept from there first, then live, in order. */
  join(fromSeq: number, sink: FeedSink): FeedHandle {
    for (const message of this.kept) if (message.seq >= fromSeq) sink.event(message);
    this.sinks.set(sink, fromSeq);
    return {
      stop: async () => {
        if (!this.sinks.delete(sink) || this.sinks.size > 0) return;
        await this.end();
      },
    };
  }

  /** The reader's messages: kept, and handed to every subscription that asked for them. */
  message(message: FeedMessage): void {
    this.kept.push(message);
    if (this.kept.length > TAIL_KEPT) this.coveredFrom = this.kept.shift()!.seq + 1;
    for (const [sink, fromSeq] of this.sinks) if (message.seq >= fromSeq) sink.event(message);
  }

  failed(reason: string): void {
    const sinks = [...this.sinks.keys()];
    this.sinks.clear();
    void this.end();
    for (const sink of sinks) sink.failed(reason);
  }

  private end(): Promise<void> {
    if (this.ended) return Promise.resolve();
    this.ended = true;
    const stopping = this.reader?.stop() ?? Promise.resolve();
    this.onEnd(this, stopping);
    return stopping;
  }
}
