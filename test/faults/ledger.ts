// The ledgers of a fault run and their comparison. The truth is read back from JetStream: every
// stored event keyed on (ce-source, ce-id) from its own headers — the event's identity under
// CloudEvents, whatever Nats-Msg-Id the edge derives from it — and every dead letter with its
// subscription and attempt history. Then: each accepted id is stored exactly once, reached each
// subscriber (2xx) or sits in its DLQ, and no refused id is stored.
import type { NatsConnection } from "@nats-io/nats-core";
import { DeliverPolicy, jetstream, jetstreamManager, type JsMsg } from "@nats-io/jetstream";
import { ALL_DEAD_LETTERS_SUBJECT, decodeEvent, DLQ_STREAM, EVENTS_STREAM, H_ATTEMPTS, H_REASON, H_SUBSCRIPTION } from "../../broker/index.ts";
import { standing, type LoadDriver } from "./load.ts";
import type { FaultReceiver } from "./receivers.ts";

export function eventKey(source: string, id: string): string {
  return JSON.stringify([source, id]);
}

/** The event's identity as the producer sent it (ce-source, ce-id, percent-decoded). */
function identityOf(m: JsMsg): { source: string; id: string } {
  return decodeEvent(m.subject, m.headers, m.data, "");
}

/** Reads every message on `filter` up to the stream's last sequence now; fails if it falls short. */
export async function readAll(nc: NatsConnection, stream: string, filter: string, each: (m: JsMsg) => void, timeoutMs = 120_000): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream, { subjects_filter: filter });
  const expected = Object.values(info.state.subjects ?? {}).reduce((a, n) => a + n, 0);
  if (expected === 0) return 0;
  const consumer = await jetstream(nc).consumers.get(stream, { filter_subjects: filter, deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume({ max_messages: 1000, expires: 2000 });
  const timer = setTimeout(() => void messages.stop(), timeoutMs);
  let seen = 0;
  try {
    for await (const m of messages) {
      if (m.seq > info.state.last_seq) break;
      each(m);
      seen++;
      if (seen >= expected || m.info.pending === 0) break;
    }
  } finally {
    clearTimeout(timer);
    await messages.close().catch(() => undefined);
  }
  if (seen < expected) throw new Error(`read ${seen} of ${expected} messages of ${stream} ${filter} within ${timeoutMs}ms`);
  return seen;
}

export interface DeadLetterEntry {
  subscription: string;
  attempts: number;
  /** Jetgate-Reason and the raw history header, for the report when something is off. */
  reason: string;
  rawHistory: string;
  seq: number;
}

export interface Stored {
  /** Event key → how many times it is in EVENTS. */
  events: Map<string, number>;
  /** Event key → its dead letters. */
  dlq: Map<string, DeadLetterEntry[]>;
}

export async function readStored(nc: NatsConnection, subject: string, source: string): Promise<Stored> {
  const events = new Map<string, number>();
  await readAll(nc, EVENTS_STREAM, subject, (m) => {
    const event = identityOf(m);
    if (event.source !== source) return;
    const key = eventKey(event.source, event.id);
    events.set(key, (events.get(key) ?? 0) + 1);
  });
  const dlq = new Map<string, DeadLetterEntry[]>();
  await readAll(nc, DLQ_STREAM, ALL_DEAD_LETTERS_SUBJECT, (m) => {
    const event = identityOf(m);
    if (event.source !== source) return;
    const key = eventKey(event.source, event.id);
    let attempts = 0;
    const rawHistory = m.headers?.get(H_ATTEMPTS) ?? "";
    try {
      attempts = (JSON.parse(rawHistory || "[]") as unknown[]).length;
    } catch {
      attempts = 0;
    }
    const list = dlq.get(key) ?? [];
    list.push({ subscription: m.headers?.get(H_SUBSCRIPTION) ?? "", attempts, reason: m.headers?.get(H_REASON) ?? "", rawHistory: rawHistory.slice(0, 300), seq: m.seq });
    dlq.set(key, list);
  });
  return { events, dlq };
}

export interface Verdict {
  counts: Record<string, number | string>;
  /** Each a human-readable finding; empty means the run kept every promise. */
  failures: string[];
  /** Dead letters whose attempt history is empty: (subscription, event id), for a closer look. */
  bareDeadLetters: Array<{ subscription: string; eventId: string }>;
  /** Accepted events a subscriber neither got nor has a dead letter of: (subscription, event id). */
  missing: Array<{ subscription: string; eventId: string }>;
}

function sample(keys: string[]): string {
  return keys.slice(0, 5).join(", ") + (keys.length > 5 ? ` … (${keys.length})` : "");
}

export function compare(load: LoadDriver, source: string, stored: Stored, subscribers: Array<{ id: string; rx: FaultReceiver }>): Verdict {
  const failures: string[] = [];
  const bareDeadLetters: Verdict["bareDeadLetters"] = [];
  const missingAll: Verdict["missing"] = [];
  const byStanding = { accepted: [] as string[], refused: [] as string[], unknown: [] as string[] };
  const answers: Record<string, number> = {};
  let everUnknown = 0;
  for (const e of load.events.values()) {
    byStanding[standing(e)].push(eventKey(source, e.id));
    if (e.answers.some((a) => a.kind === "unknown")) everUnknown++;
    for (const a of e.answers) {
      const label = a.status === 0 ? a.detail : `${a.status}${a.detail ? ` ${a.detail}` : ""}`;
      answers[label] = (answers[label] ?? 0) + 1;
    }
  }
  // Availability, not correctness: the longest stretch without any 202 while the load ran.
  const acceptedAt = [...load.events.values()].flatMap((e) => e.answers.filter((a) => a.kind === "accepted").map((a) => a.at)).sort((a, b) => a - b);
  let longestNo202Ms = 0;
  for (let i = 1; i < acceptedAt.length; i++) longestNo202Ms = Math.max(longestNo202Ms, acceptedAt[i]! - acceptedAt[i - 1]!);
  const duplicated = [...stored.events].filter(([, n]) => n > 1).map(([k]) => k);
  if (duplicated.length) failures.push(`${duplicated.length} events stored more than once: ${sample(duplicated)}`);
  const lostInStream = byStanding.accepted.filter((k) => !stored.events.has(k));
  if (lostInStream.length) failures.push(`${lostInStream.length} accepted (202) events missing from EVENTS: ${sample(lostInStream)}`);
  const refusedStored = byStanding.refused.filter((k) => stored.events.has(k));
  if (refusedStored.length) failures.push(`${refusedStored.length} refused events found in EVENTS: ${sample(refusedStored)}`);
  const unknownStored = byStanding.unknown.filter((k) => stored.events.has(k)).length;
  const sentKeys = new Set([...load.events.keys()].map((id) => eventKey(source, id)));
  const strangers = [...stored.events.keys()].filter((k) => !sentKeys.has(k));
  if (strangers.length) failures.push(`${strangers.length} events in EVENTS that were never sent: ${sample(strangers)}`);

  const counts: Record<string, number | string> = {
    sent: load.events.size,
    requests: load.requests,
    accepted202: byStanding.accepted.length,
    refusedNon2xx: byStanding.refused.length,
    unknownEver: everUnknown,
    unknownUnsettled: byStanding.unknown.length,
    unknownUnsettledInStream: unknownStored,
    inStream: stored.events.size,
    duplicatedInStream: duplicated.length,
    lostInStream: lostInStream.length,
    refusedInStream: refusedStored.length,
    answers: JSON.stringify(answers),
    longestNo202Ms,
  };
  let lost = 0;
  for (const { id, rx } of subscribers) {
    let delivered = 0;
    let dead = 0;
    let both = 0;
    const missing: string[] = [];
    for (const key of byStanding.accepted) {
      if (rx.delivered.has(key)) delivered++;
      const letters = (stored.dlq.get(key) ?? []).filter((d) => d.subscription === id);
      if (letters.length) dead++;
      if (letters.length && rx.delivered.has(key)) both++;
      const bare = letters.find((d) => d.attempts === 0);
      if (bare) bareDeadLetters.push({ subscription: id, eventId: (JSON.parse(key) as string[])[1]! });
      if (bare) failures.push(`${id}: dead letter without attempt history for ${key} (DLQ seq ${bare.seq}, reason ${JSON.stringify(bare.reason)}, history ${JSON.stringify(bare.rawHistory)})`);
      if (!rx.delivered.has(key) && letters.length === 0) {
        missing.push(key);
        missingAll.push({ subscription: id, eventId: (JSON.parse(key) as string[])[1]! });
      }
    }
    const unstable = [...rx.webhookIds].filter(([, ids]) => ids.size > 1).map(([k]) => k);
    if (unstable.length) failures.push(`${id}: ${unstable.length} events arrived with more than one webhook-id: ${sample(unstable)}`);
    if (missing.length) failures.push(`${id}: ${missing.length} accepted events neither delivered nor dead-lettered: ${sample(missing)}`);
    const redelivered = [...rx.delivered.values()].filter((n) => n > 1).length;
    counts[`${id}.delivered`] = delivered;
    counts[`${id}.inDlq`] = dead;
    counts[`${id}.deliveredTwice+`] = redelivered;
    // Delivered (2xx) and yet dead-lettered: not a loss, but a dead letter an operator may redrive.
    counts[`${id}.deliveredAndInDlq`] = both;
    counts[`${id}.requests`] = rx.requests();
    counts[`${id}.lost`] = missing.length;
    lost += missing.length;
  }
  counts.lost = lost + lostInStream.length;
  return { counts, failures, bareDeadLetters, missing: missingAll };
}
