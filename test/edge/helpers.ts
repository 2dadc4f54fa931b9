// Shared by the edge suites: test API keys, a client that records every answer (for the
// "the stream holds exactly the events that got 202" check and the OpenAPI check), and a reader
// of the EVENTS stream.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { hashApiKey, type ApiKeyEntry } from "../../worker/auth/keys.ts";
import { decodeEvent, EVENTS_STREAM, H_MSG_ID } from "../../broker/index.ts";

export const KEYS = {
  full: "jg_test_full_access",
  orders: "jg_test_orders_only",
  limited: "jg_test_rate_limited",
} as const;

export async function testApiKeys(): Promise<ApiKeyEntry[]> {
  return [
    { name: "full", sha256: await hashApiKey(KEYS.full), types: ["**"] },
    { name: "orders", sha256: await hashApiKey(KEYS.orders), types: ["order.*"] },
    { name: "limited", sha256: await hashApiKey(KEYS.limited), types: ["**"], rateLimit: { perSecond: 1, burst: 2 } },
  ];
}

export interface Recorded {
  method: string;
  path: string;
  status: number;
  contentType: string;
  body: unknown;
}

/**
 * Every 202 the edge answered: stream seq → the event id stored there and the count of
 * non-duplicate acceptances. Keyed by seq, not id: an id is unique only within its source
 * (CloudEvents), so two events may share one, and a 202 names only the id.
 */
export class Ledger {
  readonly accepted = new Map<number, { id: string; fresh: number }>();
  readonly responses: Recorded[] = [];

  note(result: { id: string; seq: number; duplicate: boolean }): void {
    const entry = this.accepted.get(result.seq) ?? { id: result.id, fresh: 0 };
    if (!result.duplicate) entry.fresh++;
    assert.equal(entry.id, result.id, `seq ${result.seq} was answered for two different ids`);
    this.accepted.set(result.seq, entry);
  }
}

export interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

/** fetch + record: notes accepted events (single and batch) in the ledger. */
export async function send(ledger: Ledger, url: string, init: RequestInit & { path: string }): Promise<Answer> {
  const res = await fetch(url + init.path, { ...init, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  const contentType = res.headers.get("content-type") ?? "";
  const body = text && contentType.includes("json") ? JSON.parse(text) : text;
  ledger.responses.push({ method: init.method ?? "GET", path: new URL(url + init.path).pathname, status: res.status, contentType, body });
  if (res.status === 202 && Array.isArray(body?.results)) {
    for (const r of body.results) if (r.status === 202) ledger.note(r);
  } else if (res.status === 202) ledger.note(body);
  return { status: res.status, headers: res.headers, body };
}

export interface StoredEvent {
  seq: number;
  /** The event's identity as JetStream dedups it (eventMsgId). */
  msgId: string;
  /** The CloudEvent id (ce-id, percent-decoded). */
  id: string;
}

/** Every message in EVENTS, in stream order. */
export async function streamEvents(nc: NatsConnection): Promise<StoredEvent[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(EVENTS_STREAM);
  const out: StoredEvent[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && seq > 0; seq++) {
    const msg = await jsm.streams.getMessage(EVENTS_STREAM, { seq }).catch(() => null);
    if (msg) out.push({ seq, msgId: msg.header?.get(H_MSG_ID) ?? "", id: decodeEvent(msg.subject, msg.header, msg.data, "").id });
  }
  return out;
}

/** The stream holds exactly the events that got a 202, each once. */
export async function assertStreamMatchesLedger(nc: NatsConnection, ledger: Ledger): Promise<void> {
  const stored = await streamEvents(nc);
  const seen = new Map<string, number>();
  for (const event of stored) {
    const entry = ledger.accepted.get(event.seq);
    assert.ok(entry, `the stream holds ${event.msgId} at seq ${event.seq}, which never got a 202`);
    assert.equal(entry.id, event.id, `seq ${event.seq} was answered for ${entry.id} but holds ${event.id}`);
    const earlier = seen.get(event.msgId);
    assert.equal(earlier, undefined, `the stream holds ${event.msgId} twice, at seqs ${earlier} and ${event.seq}`);
    seen.set(event.msgId, event.seq);
  }
  const seqs = new Set(stored.map((e) => e.seq));
  for (const [seq, entry] of ledger.accepted) {
    assert.ok(seqs.has(seq), `${entry.id} got a 202 with seq ${seq}, which the stream does not hold`);
    assert.equal(entry.fresh, 1, `${entry.id} (seq ${seq}) was answered as new ${entry.fresh} times`);
  }
}

/** Polls until `probe` is true; fails with `what` after `timeoutMs`. */
export async function waitUntil(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await sleep(100);
  }
  assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export function bearer(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}

/** Vars shared by the suites: small limits keep the 413 cases cheap; one CORS origin. */
export const SUITE_VARS: Record<string, string> = {
  MAX_EVENT_BYTES: "65536",
  MAX_BATCH_BYTES: "262144",
  MAX_BATCH_EVENTS: "50",
  MAX_HEADER_BYTES: "4096",
  MAX_JSON_DEPTH: "16",
  CORS_ORIGINS: "https://app.example.com",
  PUBLISH_TIMEOUT_MS: "3000",
};

export const ALLOWED_ORIGIN = "https://app.example.com";
