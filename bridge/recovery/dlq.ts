// Dead letters: when a subscription's attempts run out, the original event (its headers and body)
// goes to the DLQ stream on dlq.<subscription> with the attempt history, and only after that
// publish is acknowledged is the original terminated (DESIGN.md decision 7). From here an operator
// lists, shows, redrives (to that one subscription) or purges.
import type { MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import { jetstream, jetstreamManager, type JetStreamClient } from "@nats-io/jetstream";
import {
  CE_PREFIX,
  DLQ_STREAM,
  DLQ_SUBJECT_PREFIX,
  H_ATTEMPTS,
  H_DEAD_AT,
  H_DELIVERIES,
  H_HISTORY_ERROR,
  H_PROBLEM,
  H_REASON,
  H_SOURCE_SEQ,
  H_SOURCE_STREAM,
  H_SOURCE_SUBJECT,
  H_SUBSCRIPTION,
  H_UNRECORDED,
} from "../../broker/index.ts";
import { BridgeError } from "../errors.ts";
import type { AttemptRecord } from "./attempt-log.ts";
import { headersToObject } from "../delivery/event.ts";
import { scanStream } from "./stream-scan.ts";
import { publishRedrive, type Progress } from "./redrive.ts";
import { copyEventHeaders } from "./event-headers.ts";
import { SubscriptionStore } from "../subscriptions/store.ts";
import type { Subscription } from "../subscriptions/model.ts";

export interface DeadLetterInput {
  subscription: string;
  subject: string;
  stream: string;
  seq: number;
  headers: MsgHdrs | undefined;
  data: Uint8Array;
  reason: string;
  attempts: AttemptRecord[];
  /** JetStream's delivery count of the message that died. */
  deliveries: number;
  /**
   * Deliveries of that message with no attempt in `attempts`: a failure record the attempt log
   * could not store (logged and counted as lost), or a delivery that never became an attempt
   * (handed back at shutdown, lost with a pull request, a crash mid-attempt, a nak while the log
   * was unreadable). The history never pretends to be complete when it is not.
   */
  unrecorded: number;
  /** Why the attempt log could not be read; `attempts` then holds only what this instance knew. */
  historyError?: string;
  /** The letter's msg id, when `dlq:<subscription>:<stream>:<seq>` would not name one death. */
  msgID?: string;
  /**
   * Why it died as a problem object (RFC 9457 members), when the reason is more than attempts
   * running out: a schema-mismatch of a pinned version (delivery/shape.ts) carries the versions
   * and the validation errors.
   */
  problem?: { type: string; detail: string };
}

/**
 * Publishes a dead letter and waits for JetStream's ack. The event's headers are copied by the one
 * rule of event-headers.ts (no Nats-*, so the same event dead-lettered by a second subscription is
 * not dropped as a duplicate). The DLQ's own msg id makes a retried publish (after a crash) harmless.
 */
export async function publishDeadLetter(js: JetStreamClient, input: DeadLetterInput): Promise<number> {
  const h = copyEventHeaders(input.headers, input.subject);
  h.set(H_SUBSCRIPTION, input.subscription);
  h.set(H_SOURCE_STREAM, input.stream);
  h.set(H_SOURCE_SEQ, String(input.seq));
  h.set(H_REASON, input.reason);
  h.set(H_DEAD_AT, new Date().toISOString());
  h.set(H_ATTEMPTS, JSON.stringify(input.attempts.map(historyEntry)));
  h.set(H_DELIVERIES, String(input.deliveries));
  h.set(H_UNRECORDED, String(input.unrecorded));
  if (input.historyError) h.set(H_HISTORY_ERROR, input.historyError);
  if (input.problem) h.set(H_PROBLEM, JSON.stringify(input.problem));
  const ack = await js.publish(`${DLQ_SUBJECT_PREFIX}${input.subscription}`, input.data, {
    headers: h,
    msgID: input.msgID ?? `dlq:${input.subscription}:${input.stream}:${input.seq}`,
    timeout: 10_000,
  });
  return ack.seq;
}

/** What the history keeps of an attempt: time, status, latency, error and ≤ 1 KiB of response. */
function historyEntry(a: AttemptRecord) {
  return {
    at: a.at,
    attempt: a.attempt,
    status: a.status,
    latencyMs: a.latencyMs,
    ...(a.error ? { error: a.error } : {}),
    ...(a.message ? { message: a.message } : {}),
    ...(a.excerpt ? { excerpt: a.excerpt } : {}),
  };
}

export interface DeadLetterSummary {
  seq: number;
  subscription: string;
  /** ce-id and ce-source as stored (percent-encoded): together, the event's identity. */
  eventId: string;
  eventSource: string;
  eventType: string;
  sourceSubject: string;
  reason: string;
  deadAt: string;
  /** Attempts in the history. */
  attempts: number;
  /** JetStream deliveries of the message that died, and how many of them have no attempt on record (absent on letters from older bridges). */
  deliveries?: number;
  unrecordedDeliveries?: number;
  /** Why the history is missing or partial, when the bridge could not read (or this letter's header could not be parsed). */
  historyError?: string;
  /** Why it died as a problem object, when the bridge wrote one (e.g. type …/schema-mismatch with the versions and errors). */
  problem?: Record<string, unknown>;
}

export interface DeadLetter extends DeadLetterSummary {
  headers: Record<string, string>;
  data: string;
  history: Array<Record<string, unknown>>;
}

/** The history header, or why it cannot be shown: a damaged header is said, not shown as no attempts. */
function parseHistory(value: string | undefined): { history: Array<Record<string, unknown>>; error?: string } {
  if (!value) return { history: [] };
  try {
    const history = JSON.parse(value) as unknown;
    if (Array.isArray(history)) return { history: history as Array<Record<string, unknown>> };
  } catch {
    // Reported below.
  }
  return { history: [], error: `the ${H_ATTEMPTS} header of this dead letter is not a JSON array` };
}

/** The problem header; absent when the letter has none; a damaged one is said, not dropped. */
function problemHeader(h: MsgHdrs | undefined): Record<string, unknown> | undefined {
  const value = h?.get(H_PROBLEM);
  if (!value) return undefined;
  try {
    const problem = JSON.parse(value) as unknown;
    if (problem && typeof problem === "object" && !Array.isArray(problem)) return problem as Record<string, unknown>;
  } catch {
    // Shown as unreadable below.
  }
  return { type: "about:blank", detail: `the ${H_PROBLEM} header of this dead letter is not a JSON object` };
}

/** A count header, or undefined when absent (letters written before it existed) or not a count. */
function countHeader(h: MsgHdrs | undefined, name: string): number | undefined {
  const value = h?.get(name);
  return value && /^\d+$/.test(value) ? Number(value) : undefined;
}

function toDeadLetter(seq: number, subject: string, h: MsgHdrs | undefined, data: Uint8Array): DeadLetter {
  const headers = headersToObject(h);
  const get = (name: string) => h?.get(name) ?? "";
  const { history, error } = parseHistory(h?.get(H_ATTEMPTS));
  const deliveries = countHeader(h, H_DELIVERIES);
  const unrecorded = countHeader(h, H_UNRECORDED);
  const historyError = [get(H_HISTORY_ERROR), error].filter(Boolean).join("; ");
  const problem = problemHeader(h);
  return {
    seq,
    subscription: get(H_SUBSCRIPTION) || subject.slice(DLQ_SUBJECT_PREFIX.length),
    eventId: get(`${CE_PREFIX}id`),
    eventSource: get(`${CE_PREFIX}source`),
    eventType: get(`${CE_PREFIX}type`),
    sourceSubject: get(H_SOURCE_SUBJECT),
    reason: get(H_REASON),
    deadAt: get(H_DEAD_AT),
    attempts: history.length,
    ...(deliveries !== undefined ? { deliveries } : {}),
    ...(unrecorded !== undefined ? { unrecordedDeliveries: unrecorded } : {}),
    ...(historyError ? { historyError } : {}),
    ...(problem ? { problem } : {}),
    headers,
    data: new TextDecoder().decode(data),
    history,
  };
}

function summary(d: DeadLetter): DeadLetterSummary {
  const { headers: _h, data: _d, history: _y, ...rest } = d;
  return rest;
}

export interface DlqSelection {
  subscription?: string;
  /** Only dead letters of this event type (ce-type). */
  type?: string;
  /** Only dead letters that died at or after this time. */
  since?: Date;
  limit?: number;
}

function dlqFilter(subscription?: string): string {
  return `${DLQ_SUBJECT_PREFIX}${subscription ?? ">"}`;
}

async function scanDlq(nc: NatsConnection, sel: DlqSelection, each: (d: DeadLetter) => void | Promise<void>): Promise<void> {
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  let taken = 0;
  await scanStream(js, jsm, { stream: DLQ_STREAM, filter: dlqFilter(sel.subscription), idleMs: 1500 }, async (m) => {
    if (sel.limit !== undefined && taken >= sel.limit) return;
    const d = toDeadLetter(m.seq, m.subject, m.headers, m.data);
    if (sel.type && d.eventType !== sel.type) return;
    if (sel.since && Date.parse(d.deadAt) < sel.since.getTime()) return;
    taken++;
    await each(d);
  });
}

/** How many dead letters a listing answers when it is not given a limit. */
export const DEFAULT_DLQ_LIST_LIMIT = 100;

export async function listDeadLetters(nc: NatsConnection, sel: DlqSelection = {}): Promise<DeadLetterSummary[]> {
  const out: DeadLetterSummary[] = [];
  await scanDlq(nc, { limit: DEFAULT_DLQ_LIST_LIMIT, ...sel }, (d) => void out.push(summary(d)));
  return out;
}

export async function getDeadLetter(nc: NatsConnection, seq: number): Promise<DeadLetter> {
  // Stream sequences start at 1; the server refuses 0 as a bad request rather than "not found".
  if (!Number.isSafeInteger(seq) || seq < 1) throw new BridgeError("DLQ_NOT_FOUND", `no dead letter at DLQ sequence ${seq}`, { seq });
  const jsm = await jetstreamManager(nc);
  // getMessage answers null for a sequence that holds nothing; a failure (timeout, permission) is
  // thrown as it is, never reported as "not found".
  const m = await jsm.streams.getMessage(DLQ_STREAM, { seq });
  if (!m) throw new BridgeError("DLQ_NOT_FOUND", `no dead letter at DLQ sequence ${seq}`, { seq });
  return toDeadLetter(m.seq, m.subject, m.header, m.data);
}

/** Depth per subscription, for the metrics gauge. */
export async function dlqDepths(nc: NatsConnection): Promise<Map<string, number>> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(DLQ_STREAM, { subjects_filter: dlqFilter() });
  const out = new Map<string, number>();
  for (const [subject, count] of Object.entries(info.state.subjects ?? {})) out.set(subject.slice(DLQ_SUBJECT_PREFIX.length), count);
  return out;
}

/**
 * Removes a redriven letter. Under load a delete request can time out; a letter left behind would
 * be redriven again later (harmless: the copy's msgID dedups it) but it would still be listed, so
 * try a few times before giving up loudly.
 */
async function removeDeadLetter(jsm: Awaited<ReturnType<typeof jetstreamManager>>, seq: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await jsm.streams.deleteMessage(DLQ_STREAM, seq, false);
      return;
    } catch (err) {
      // Already gone (a concurrent redrive or purge) is success. The server reports that under the
      // generic delete-failed code (10057) with varying text, so ask the stream instead of reading
      // the message; a failed look-up counts as a failed try.
      if ((await jsm.streams.getMessage(DLQ_STREAM, { seq }).catch(() => undefined)) === null) return;
      if (attempt >= 3) throw err;
    }
  }
}

/**
 * Sends dead letters back to their own subscription (never to the others on the same event) via
 * the redrive stream, then removes them from the DLQ. A redrive copy carries the original headers
 * and body, so it is delivered exactly as the event would have been, with the same webhook-id.
 */
export async function redriveDeadLetters(
  nc: NatsConnection,
  sel: DlqSelection & { seq?: number },
  progress?: Progress,
): Promise<{ redriven: number; skipped: number }> {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const store = await SubscriptionStore.open(nc);
  const subs = new Map<string, Subscription | null>();
  const letters: DeadLetter[] = [];
  if (sel.seq !== undefined) letters.push(await getDeadLetter(nc, sel.seq));
  else await scanDlq(nc, sel, (d) => void letters.push(d));
  progress?.start(letters.length);
  let done = 0;
  let skipped = 0;
  for (const d of letters) {
    if (!subs.has(d.subscription)) subs.set(d.subscription, (await store.get(d.subscription))?.sub ?? null);
    const sub = subs.get(d.subscription);
    const m = sub ? await jsm.streams.getMessage(DLQ_STREAM, { seq: d.seq }) : null;
    if (!sub || !m) {
      // A letter of a deleted subscription stays listed: nothing could deliver it.
      skipped++;
      continue;
    }
    // The letter recorded the event's first subject; its own bookkeeping stays behind.
    const h = copyEventHeaders(m.header);
    await publishRedrive(js, sub, m.data, h, { msgID: `redrive:${d.seq}`, originSeq: d.seq });
    await removeDeadLetter(jsm, d.seq);
    done++;
    progress?.update(done + skipped);
  }
  progress?.stop();
  return { redriven: done, skipped };
}

export async function purgeDeadLetters(nc: NatsConnection, subscription?: string): Promise<{ purged: number }> {
  const jsm = await jetstreamManager(nc);
  const res = await jsm.streams.purge(DLQ_STREAM, { filter: dlqFilter(subscription) });
  return { purged: res.purged };
}
