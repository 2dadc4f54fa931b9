// Reads a range of a stream through an ordered consumer: the attempt log, the DLQ and replays all
// need "the messages on this filter from here to there". An ordered consumer is ephemeral, so
// reading never disturbs the durable consumers that deliver.
import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { DeliverPolicy } from "@nats-io/jetstream";
import { BridgeError } from "../errors.ts";

export interface ScanOptions {
  stream: string;
  /** One subject filter. */
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

/** Rounds of consuming before a scan that keeps stopping short gives up (see scanStream). */
const SCAN_ROUNDS = 3;

/**
 * Calls `each` for every matching message in order; returns how many it saw.
 *
 * A scan ends when the server says nothing more is pending, a bound is reached, or no message came
 * for `idleMs`. The last one is ambiguous: in a cluster the first pull of a new ordered consumer
 * can be lost while its consumer starts, and a scan that took that silence for "no more" would
 * list a DLQ as empty or replay nothing. So when the silence falls where messages are known to be
 * left (the first match was found up front, or the last message said more were pending), the scan
 * resumes from where it stopped with a fresh consumer, and after SCAN_ROUNDS such stops it throws
 * instead of answering short.
 */
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
  let seen = 0;
  for (let round = 1; ; round++) {
    const from = round === 1 && opts.startTime ? { startTime: opts.startTime } : { startSeq };
    const pass = await scanOnce(js, opts, from, seen, each);
    seen = pass.seen;
    if (pass.done) return seen;
    // Stopped by silence: an empty start-time scan has nothing known to be left, so it is done.
    if (opts.startTime && pass.lastSeq === undefined && round === 1) return seen;
    if (pass.lastSeq !== undefined) startSeq = pass.lastSeq + 1;
    if (round >= SCAN_ROUNDS) {
      throw new BridgeError("NOT_READY", `reading ${opts.stream} (${opts.filter}) stopped short ${SCAN_ROUNDS} times at sequence ${startSeq}; try again`, {
        stream: opts.stream,
        seq: startSeq,
      });
    }
  }
}

/**
 * The first sequence of `stream` whose message was stored at or after `time` (last_seq + 1 when
 * none): a binary search of direct reads, about log2(messages) requests and no consumer. A time
 * range becomes a sequence range this way, which scanStream checks for emptiness with one request
 * (nats-server 2.10 has no direct get by start time; a start-time scan of an empty range would
 * wait out its idle time instead).
 */
export async function seqAtTime(jsm: JetStreamManager, stream: string, time: Date): Promise<number> {
  const { state } = await jsm.streams.info(stream);
  let lo = state.first_seq;
  let hi = state.last_seq + 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const m = await jsm.streams.getMessage(stream, { seq: mid, next_by_subj: ">" } as never);
    // Nothing stored from mid up to hi: the answer is at or below mid.
    if (!m || m.seq >= hi || m.time.getTime() >= time.getTime()) hi = mid;
    else lo = m.seq + 1;
  }
  return lo;
}

interface ScanPass {
  seen: number;
  /** True when the scan ended for a reason other than silence. */
  done: boolean;
  lastSeq?: number;
}

async function scanOnce(
  js: JetStreamClient,
  opts: ScanOptions,
  from: { startSeq: number } | { startTime: Date },
  seenBefore: number,
  each: (m: JsMsg) => void | Promise<void>,
): Promise<ScanPass> {
  const consumer = await js.consumers.get(opts.stream, {
    filter_subjects: opts.filter,
    ...("startTime" in from
      ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: from.startTime.toISOString() }
      : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from.startSeq }),
  });
  const idleMs = opts.idleMs ?? 2000;
  const pass: ScanPass = { seen: seenBefore, done: false };
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
      if ((opts.endSeq !== undefined && m.seq > opts.endSeq) || (opts.endTime && m.time.getTime() > opts.endTime.getTime())) {
        pass.done = true;
        break;
      }
      await each(m);
      pass.seen++;
      pass.lastSeq = m.seq;
      if ((opts.limit !== undefined && pass.seen >= opts.limit) || m.info.pending === 0) {
        pass.done = true;
        break;
      }
    }
  } finally {
    clearTimeout(idle);
    // What was read is complete either way; the ordered consumer is ephemeral and the server
    // removes it once idle, so a failed close loses nothing.
    await messages.close().catch(() => undefined);
  }
  return pass;
}
