// The delivery log: every attempt as one small JSON record in the JETGATE_ATTEMPTS stream (limits
// retention with a max age), on a subject that carries the subscription and the event's identity
// (id, then source: CloudEvents ids are unique only within a source), so the log can be read per
// subscription (jetgate.attempts.<sub>.>), per event id (…*.<id>.*) or per event (…*.<id>.<source>).
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstream, jetstreamManager, RetentionPolicy, StorageType, DiscardPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { type EventEnvelope } from "../../broker/index.ts";
import { ensureStream, isNotReady, jetstreamManagerReady, type UntilReadyOptions } from "../../broker/jetstream/index.ts";
import type { AttemptResult } from "../delivery/webhook-post.ts";
import type { BridgeMetrics } from "../metrics.ts";
import { scanStream } from "./stream-scan.ts";

export const ATTEMPTS_STREAM = "JETGATE_ATTEMPTS";
const ATTEMPTS_PREFIX = "jetgate.attempts";

/** `failed`: a test-send without a 2xx (test-sends are never retried). */
export type AttemptOutcome = "delivered" | "retrying" | "dead-lettered" | "disabled" | "aborted" | "failed";

export interface AttemptRecord {
  subscription: string;
  eventId: string;
  /** The event's CloudEvents source: with eventId, the event's identity. */
  eventSource: string;
  eventType: string;
  /** Where the event came from: the EVENTS stream, a redrive/replay copy, or a test-send. */
  source: "events" | "redrive" | "test";
  /** Stream sequence of the message that was delivered (EVENTS or the redrive stream). */
  streamSeq: number;
  /** 1 for the first attempt (JetStream's delivery count). */
  attempt: number;
  at: string;
  status: number;
  latencyMs: number;
  outcome: AttemptOutcome;
  error?: string;
  message?: string;
  /** ≤ 1 KiB of the response body, for failures. */
  excerpt?: string;
  nextDelayMs?: number;
  instance: string;
}

/** Where and when an attempt happened: everything its record holds besides the result. */
export interface AttemptContext {
  subscription: string;
  event: Pick<EventEnvelope, "id" | "source" | "type">;
  source: AttemptRecord["source"];
  streamSeq: number;
  attempt: number;
  startedAt: Date;
  instance: string;
}

/** The one way an attempt record is built, for deliveries and test-sends alike. */
export function attemptRecord(ctx: AttemptContext, result: AttemptResult, outcome: AttemptOutcome, nextDelayMs?: number): AttemptRecord {
  return {
    subscription: ctx.subscription,
    eventId: ctx.event.id,
    eventSource: ctx.event.source,
    eventType: ctx.event.type,
    source: ctx.source,
    streamSeq: ctx.streamSeq,
    attempt: ctx.attempt,
    at: ctx.startedAt.toISOString(),
    status: result.status,
    latencyMs: result.latencyMs,
    outcome,
    ...(result.error ? { error: result.error } : {}),
    ...(result.message ? { message: result.message } : {}),
    ...(result.excerpt ? { excerpt: result.excerpt } : {}),
    instance: ctx.instance,
    ...(nextDelayMs !== undefined ? { nextDelayMs } : {}),
  };
}

/** Event ids and sources are free text (CloudEvents); base64url makes each one safe subject token. */
function eventToken(value: string): string {
  return Buffer.from(value, "utf8").toString("base64url") || "_";
}

function attemptSubject(subscription: string, eventId: string, eventSource: string): string {
  return `${ATTEMPTS_PREFIX}.${subscription}.${eventToken(eventId)}.${eventToken(eventSource)}`;
}

export async function ensureAttemptsStream(nc: NatsConnection, replicas: number, maxAgeMs: number, wait: UntilReadyOptions = {}): Promise<void> {
  const jsm = await jetstreamManagerReady(nc, wait);
  const config = {
    name: ATTEMPTS_STREAM,
    subjects: [`${ATTEMPTS_PREFIX}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: replicas,
    max_age: maxAgeMs * 1_000_000,
  };
  // Waits for the stream's leader after a restart (DESIGN.md decision 15).
  await ensureStream(jsm, config, wait);
}

const encoder = new TextEncoder();
/** How long a failure record is retried before it is given up (a leader election takes seconds). */
const FAILURE_RECORD_DEADLINE_MS = 15_000;

export class AttemptLog {
  private readonly js: JetStreamClient;
  constructor(
    private readonly nc: NatsConnection,
    private readonly enabled: boolean,
    private readonly log: Logger,
    private readonly metrics: Pick<BridgeMetrics, "attemptRecordsLost">,
  ) {
    this.js = jetstream(nc);
  }

  /**
   * Records an attempt. Successes go out as plain publishes (no round trip: at thousands per
   * second the log must not halve throughput); failures are awaited, because the DLQ history is
   * read back from the log and must include every failed attempt.
   */
  async record(rec: AttemptRecord): Promise<void> {
    if (!this.enabled) return;
    const subject = attemptSubject(rec.subscription, rec.eventId, rec.eventSource);
    const data = encoder.encode(JSON.stringify(rec));
    if (rec.outcome === "delivered") {
      this.nc.publish(subject, data);
      return;
    }
    await this.publishFailure(subject, data, rec);
  }

  /**
   * A failure record is retried while JetStream is not ready (broker/jetstream/ready.ts: a timeout, no
   * responders, a cluster without a leader), until it acks or FAILURE_RECORD_DEADLINE_MS passes:
   * while the log's stream re-elects its leader (seconds, after a node dies) a single publish times
   * out, and with a short schedule every attempt of an event falls inside that window — the fault
   * run found dead letters whose history was empty because all their records were dropped here.
   * The msgID makes a retry of a publish that did land harmless (the stream's duplicate window).
   * Any other error (a permission violation) cannot heal by waiting. A record given up is logged
   * and counted (jetgate_attempt_records_lost_total); the dead letter of that event then counts the
   * delivery as unrecorded (runner.ts), so the gap is visible where the history is read.
   */
  private async publishFailure(subject: string, data: Uint8Array, rec: AttemptRecord): Promise<void> {
    const msgID = `${rec.subscription}:${rec.source}:${rec.streamSeq}:${rec.attempt}:${rec.at}`;
    const deadline = Date.now() + FAILURE_RECORD_DEADLINE_MS;
    for (let tries = 1; ; tries++) {
      try {
        await this.js.publish(subject, data, { timeout: 5000, msgID });
        return;
      } catch (err) {
        if (!isNotReady(err) || this.nc.isClosed() || Date.now() >= deadline) {
          this.lost(rec, tries, err);
          return;
        }
        await sleep(Math.min(250 * tries, 1000));
      }
    }
  }

  private lost(rec: AttemptRecord, tries: number, err: unknown): void {
    this.metrics.attemptRecordsLost.inc({ subscription: rec.subscription, outcome: rec.outcome });
    this.log.error(
      { subscription: rec.subscription, eventId: rec.eventId, eventSource: rec.eventSource, source: rec.source, streamSeq: rec.streamSeq, attempt: rec.attempt, outcome: rec.outcome, tries, err },
      "attempt record lost: the attempt log did not store it",
    );
  }
}

export interface AttemptQuery {
  subscription?: string;
  eventId?: string;
  /** With eventId: only that one event's attempts; without, every event with that id. */
  eventSource?: string;
  since?: Date;
  limit?: number;
}

function eventFilter(q: AttemptQuery): string {
  if (q.eventId === undefined) return ">";
  return `${eventToken(q.eventId)}.${q.eventSource === undefined ? "*" : eventToken(q.eventSource)}`;
}

/** How many attempts a listing answers when it is not given a limit. */
export const DEFAULT_ATTEMPTS_LIMIT = 100;

/** Attempts, oldest first; the newest `limit` when there are more. */
export async function listAttempts(nc: NatsConnection, q: AttemptQuery): Promise<AttemptRecord[]> {
  const js = jetstream(nc);
  const jsm: JetStreamManager = await jetstreamManager(nc);
  const filter = `${ATTEMPTS_PREFIX}.${q.subscription ?? "*"}.${eventFilter(q)}`;
  const limit = q.limit ?? DEFAULT_ATTEMPTS_LIMIT;
  const out: AttemptRecord[] = [];
  await scanStream(js, jsm, { stream: ATTEMPTS_STREAM, filter, ...(q.since ? { startTime: q.since } : {}), idleMs: 1500 }, (m) => {
    out.push(m.json<AttemptRecord>());
    if (out.length > limit) out.shift();
  });
  return out;
}
