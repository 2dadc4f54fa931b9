// Shared by the edge suites: test API keys, a client that records every answer (for the
// "the stream holds exactly the events that got 202" check and the OpenAPI check), and a reader
// of the EVENTS stream.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { hashApiKey, type ApiKeyEntry } from "../../worker/keys.ts";
import { EVENTS_STREAM } from "../../broker/index.ts";

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

/** Every 202 the edge answered: event id → count of non-duplicate acceptances. */
export class Ledger {
  readonly accepted = new Map<string, { seq: number; fresh: number }>();
  readonly responses: Recorded[] = [];

  note(result: { id: string; seq: number; duplicate: boolean }): void {
    const entry = this.accepted.get(result.id) ?? { seq: result.seq, fresh: 0 };
    if (!result.duplicate) entry.fresh++;
    assert.equal(entry.seq, result.seq, `event ${result.id} answered with two different seqs`);
    this.accepted.set(result.id, entry);
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

/** Nats-Msg-Id of every message in EVENTS, in stream order. */
export async function streamMsgIds(nc: NatsConnection): Promise<string[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(EVENTS_STREAM);
  const ids: string[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && seq > 0; seq++) {
    const msg = await jsm.streams.getMessage(EVENTS_STREAM, { seq }).catch(() => null);
    if (msg) ids.push(msg.header?.get("Nats-Msg-Id") ?? "");
  }
  return ids;
}

/** The stream holds exactly the events that got a 202, each once. */
export async function assertStreamMatchesLedger(nc: NatsConnection, ledger: Ledger): Promise<void> {
  const ids = await streamMsgIds(nc);
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  for (const [id, count] of counts) {
    assert.ok(ledger.accepted.has(id), `the stream holds ${id}, which never got a 202`);
    assert.equal(count, 1, `the stream holds ${id} ${count} times`);
  }
  for (const [id, entry] of ledger.accepted) {
    assert.equal(counts.get(id), 1, `${id} got a 202 but is not in the stream once`);
    assert.equal(entry.fresh, 1, `${id} was answered as new ${entry.fresh} times`);
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
