// Reads a range of a stream through an ordered consumer: the attempt log, the DLQ and replays all
// need "the messages on this filter from here to there". An ordered consumer is ephemeral, so
// reading never disturbs the durable consumers that deliver.
import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { DeliverPolicy } from "@nats-io/jetstream";

export interface ScanOptions {
  stream: string;
  /** One subject filter (nats-server 2.9: one per consumer). */
  filter: string;
  startSeq?: number;
  startTime?: Date;
  /** Stop after this stream sequence. */
  endSeq?: number;
  /** Stop at the first message newer than this. */
  endTime?: Date;
  /** Stop after this many messages. */
  limit?: number;
  /** Give up waiting for the next message after this long (bounds every scan). */
  idleMs?: number;
}

/** Calls `each` for every matching message in order; returns how many it saw. */
export async function scanStream(
  js: JetStreamClient,
  jsm: JetStreamManager,
  opts: ScanOptions,
  each: (m: JsMsg) => void | Promise<void>,
): Promise<number> {
  let startSeq = opts.startSeq ?? 1;
  if (!opts.startTime) {
    // Find the first match with one request, so an empty range costs no consumer and no wait.
    const first = await jsm.streams.getMessage(opts.stream, { seq: startSeq, next_by_subj: opts.filter } as never);
    if (!first || (opts.endSeq !== undefined && first.seq > opts.endSeq)) return 0;
    startSeq = first.seq;
  }
  const consumer = await js.consumers.get(opts.stream, {
    filter_subjects: opts.filter,
    ...(opts.startTime
      ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: opts.startTime.toISOString() }
      : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq }),
  });
  const idleMs = opts.idleMs ?? 2000;
  let seen = 0;
  const messages = await consumer.consume({ max_messages: 256, expires: Math.max(1000, idleMs) });
  let idle: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(idle);
    idle = setTimeout(() => void messages.stop(), idleMs);
  };
  arm();
  try {
    for await (const m of messages) {
      arm();
      if (opts.endSeq !== undefined && m.seq > opts.endSeq) break;
      if (opts.endTime && m.time.getTime() > opts.endTime.getTime()) break;
      await each(m);
      seen++;
      if (opts.limit !== undefined && seen >= opts.limit) break;
      if (m.info.pending === 0) break;
    }
  } finally {
    clearTimeout(idle);
    await messages.close().catch(() => undefined);
  }
  return seen;
}
