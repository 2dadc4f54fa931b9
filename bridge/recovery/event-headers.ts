// The one rule for carrying an event's headers from the message that holds it to a new message
// the bridge writes: a dead letter (EVENTS or a redrive copy → DLQ), a redrive (DLQ → the redrive
// stream) and a replay (EVENTS → the redrive stream).
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/nats-core";
import { DEAD_LETTER_HEADERS, H_SOURCE_SUBJECT, NATS_HEADER_PREFIX } from "../../broker/index.ts";

const NATS_PREFIX = NATS_HEADER_PREFIX.toLowerCase();
const DEAD_LETTER = new Set(DEAD_LETTER_HEADERS.map((h) => h.toLowerCase()));

/**
 * The event's headers, without those that belong to the message that carried it:
 * - `Nats-*` are JetStream's, about one message. The original Nats-Msg-Id in particular would make
 *   the target stream's duplicate window drop the same event copied for a second subscription;
 *   each copy gets its own msg id from its writer.
 * - a dead letter's bookkeeping (DEAD_LETTER_HEADERS: Jetgate-Subscription, -Reason, -Attempts,
 *   -Deliveries, …) describes one death; a new dead letter writes its own.
 * Everything else is the event's and goes along: ce-*, content-type, the trace headers, and
 * Jetgate-Source-Subject, the subject the event was first published on. `sourceSubject` (the
 * subject the message was read from, when that is the event's own) is recorded there unless an
 * earlier hop recorded it already, so it survives any chain of dead letters and redrives.
 * Names are compared case-insensitively; values are copied as they are, in order.
 */
export function copyEventHeaders(from: MsgHdrs | undefined, sourceSubject?: string): MsgHdrs {
  const h = natsHeaders();
  for (const [key, values] of from ?? []) {
    const lower = key.toLowerCase();
    if (lower.startsWith(NATS_PREFIX) || DEAD_LETTER.has(lower)) continue;
    for (const value of values) h.append(key, value);
  }
  if (sourceSubject !== undefined && !h.has(H_SOURCE_SUBJECT)) h.set(H_SOURCE_SUBJECT, sourceSubject);
  return h;
}
