// Delivery tasks (issue 13, DESIGN decision 16): one message per (subscription, event) in the
// JETGATE_TASKS work-queue stream, written by the fan-out (fanout.ts), by redrives and replays, by
// backfills and by a retry; all bridge instances take them from one shared durable (task-worker.ts).
// A task carries the event itself (its headers and data, copied by the rule of event-headers.ts),
// so a delivery needs no read-back, and its own bookkeeping in Jetgate-Task-* headers:
//  - Jetgate-Task-Id: the task chain's id, stable across retries (the DLQ's msg id is built on it);
//  - Jetgate-Task-Origin / -Origin-Seq: "events" + the EVENTS sequence, or "redrive" + the DLQ
//    sequence or replay sequence, for attempt records and dead letters;
//  - Jetgate-Task-Attempts: attempts already made (a retry is a new task with one more);
//  - Jetgate-Task-Not-Before: epoch ms before which it must not be tried (a retry's wait);
//  - Jetgate-Task-Last-Attempt: on a task whose attempts are used up but whose dead letter could
//    not be written yet, the last attempt's record (JSON), so the letter keeps it whatever the log.
// A waiting retry costs one pending message on the server (the durable's max_ack_pending is
// unlimited), never a slot or a timer in the bridge. Tasks of a disabled subscription wait in the
// JETGATE_HELD stream (limits retention, no consumer) until it is enabled again (held.ts).
import { headers as natsHeaders, type MsgHdrs, type NatsConnection } from "@nats-io/nats-core";
import { DiscardPolicy, RetentionPolicy, StorageType, type JetStreamClient } from "@nats-io/jetstream";
import { ensureStream, jetstreamManagerReady, type UntilReadyOptions } from "../../broker/jetstream/index.ts";

export const TASKS_STREAM = "JETGATE_TASKS";
export const HELD_STREAM = "JETGATE_HELD";
export const TASKS_DURABLE = "jetgate_deliveries";
const TASK_PREFIX = "jetgate.task.";
const HELD_PREFIX = "jetgate.held.";

export const H_TASK_ID = "Jetgate-Task-Id";
export const H_TASK_ORIGIN = "Jetgate-Task-Origin";
export const H_TASK_ORIGIN_SEQ = "Jetgate-Task-Origin-Seq";
export const H_TASK_ATTEMPTS = "Jetgate-Task-Attempts";
export const H_TASK_NOT_BEFORE = "Jetgate-Task-Not-Before";
export const H_TASK_LAST_ATTEMPT = "Jetgate-Task-Last-Attempt";
const TASK_HEADERS = [H_TASK_ID, H_TASK_ORIGIN, H_TASK_ORIGIN_SEQ, H_TASK_ATTEMPTS, H_TASK_NOT_BEFORE, H_TASK_LAST_ATTEMPT].map((h) => h.toLowerCase());

/** The task stream's duplicate window: a fan-out or backfill redone after a crash is written once. */
const DUPLICATE_WINDOW_MS = 120_000;

export function taskSubject(subscription: string): string {
  return TASK_PREFIX + subscription;
}

export function heldSubject(subscription: string): string {
  return HELD_PREFIX + subscription;
}

export const ALL_TASKS = `${TASK_PREFIX}>`;
export const ALL_HELD = `${HELD_PREFIX}>`;

/** The subscription a task or held subject belongs to. */
export function subscriptionOfSubject(subject: string): string {
  return subject.startsWith(TASK_PREFIX) ? subject.slice(TASK_PREFIX.length) : subject.slice(HELD_PREFIX.length);
}

export interface TaskMeta {
  /** Stable across the task's retries; unique per (subscription, delivery intent). */
  id: string;
  origin: "events" | "redrive";
  originSeq: number;
  /** Attempts already made. */
  attempts: number;
  /** Epoch ms; absent = now. */
  notBefore?: number;
  /** The last attempt's record (JSON), carried while a dead letter waits to be written. */
  lastAttempt?: string;
}

/** The id of the task the fan-out (or a backfill) writes for one event: the same from every writer. */
export function eventTaskId(eventSeq: number): string {
  return `ev:${eventSeq}`;
}

/** Reads a task's bookkeeping; a message written by anything else is refused with a reason. */
export function readTaskMeta(h: MsgHdrs | undefined): TaskMeta | string {
  const id = h?.get(H_TASK_ID);
  const origin = h?.get(H_TASK_ORIGIN);
  const originSeq = Number(h?.get(H_TASK_ORIGIN_SEQ));
  const attempts = Number(h?.get(H_TASK_ATTEMPTS) || "0");
  const notBefore = h?.get(H_TASK_NOT_BEFORE);
  const lastAttempt = h?.get(H_TASK_LAST_ATTEMPT);
  if (!id) return `no ${H_TASK_ID} header`;
  if (origin !== "events" && origin !== "redrive") return `${H_TASK_ORIGIN} is ${JSON.stringify(origin)}`;
  if (!Number.isSafeInteger(originSeq) || !Number.isSafeInteger(attempts) || attempts < 0) return "bad sequence or attempt count";
  return { id, origin, originSeq, attempts, ...(notBefore ? { notBefore: Number(notBefore) } : {}), ...(lastAttempt ? { lastAttempt } : {}) };
}

/** The event's headers (copied by the caller) plus the task's own, replacing any earlier task's. */
export function taskHeaders(eventHeaders: MsgHdrs, meta: TaskMeta): MsgHdrs {
  const h = natsHeaders();
  for (const [key, values] of eventHeaders) {
    if (TASK_HEADERS.includes(key.toLowerCase())) continue;
    for (const value of values) h.append(key, value);
  }
  h.set(H_TASK_ID, meta.id);
  h.set(H_TASK_ORIGIN, meta.origin);
  h.set(H_TASK_ORIGIN_SEQ, String(meta.originSeq));
  h.set(H_TASK_ATTEMPTS, String(meta.attempts));
  if (meta.notBefore !== undefined) h.set(H_TASK_NOT_BEFORE, String(meta.notBefore));
  if (meta.lastAttempt !== undefined) h.set(H_TASK_LAST_ATTEMPT, meta.lastAttempt);
  return h;
}

/**
 * Writes one task and waits for JetStream's ack. The msg id is by default the subscription, the
 * task id and the attempt count: a writer that crashed and writes it again within the window is
 * deduplicated (the fan-out and a backfill writing the same event's task, too).
 */
export async function publishTask(
  js: JetStreamClient,
  subscription: string,
  eventHeaders: MsgHdrs,
  data: Uint8Array,
  meta: TaskMeta,
  opts: { held?: boolean; msgID?: string } = {},
): Promise<void> {
  const subject = opts.held ? heldSubject(subscription) : taskSubject(subscription);
  const msgID = opts.msgID ?? `${opts.held ? "held" : "task"}:${subscription}:${meta.id}:${meta.attempts}`;
  await js.publish(subject, data, { headers: taskHeaders(eventHeaders, meta), msgID, timeout: 10_000 });
}

/**
 * The two streams, with the EVENTS stream's replicas. Tasks: work-queue retention (a task is gone
 * once acked), no max age (a task waits as long as its retries do). Held: limits retention with
 * the redrive max age, like the copies it replaces.
 */
export async function ensureTaskStreams(nc: NatsConnection, replicas: number, heldMaxAgeMs: number, wait: UntilReadyOptions = {}): Promise<void> {
  const jsm = await jetstreamManagerReady(nc, wait);
  const common = { storage: StorageType.File, discard: DiscardPolicy.Old, num_replicas: replicas, duplicate_window: DUPLICATE_WINDOW_MS * 1_000_000 };
  await ensureStream(jsm, { ...common, name: TASKS_STREAM, subjects: [ALL_TASKS], retention: RetentionPolicy.Workqueue }, wait);
  await ensureStream(jsm, { ...common, name: HELD_STREAM, subjects: [ALL_HELD], retention: RetentionPolicy.Limits, max_age: heldMaxAgeMs * 1_000_000, duplicate_window: Math.min(DUPLICATE_WINDOW_MS, heldMaxAgeMs) * 1_000_000 }, wait);
}
