// The bridge admin API's routes (bridge/admin/routes-*.ts, assembled in api.ts), written once for
// the tests that must cover every one of them (the token check, the fuzz suite, the OpenAPI
// document's coverage), and a snapshot of everything a request could change in the broker, to
// prove a refused request changed nothing.
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";

export interface AdminRoute {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** With `{id}` for a subscription id, `{event}` for an event id, `{seq}` for a DLQ sequence. */
  path: string;
  /** A body that the route would accept with the right token (so a refusal is due to the token alone). */
  body?: unknown;
}

/** The routes behind the admin token: each refuses a request without it. */
export const ADMIN_ROUTES: AdminRoute[] = [
  { method: "GET", path: "/v1/subscriptions" },
  { method: "POST", path: "/v1/subscriptions", body: { id: "intruder", url: "http://127.0.0.1:9/hook", filter: "events.>" } },
  { method: "GET", path: "/v1/subscriptions/{id}" },
  { method: "PUT", path: "/v1/subscriptions/{id}", body: { id: "{id}", url: "http://127.0.0.1:9/replaced", filter: "events.>" } },
  { method: "PATCH", path: "/v1/subscriptions/{id}", body: { url: "http://127.0.0.1:9/patched" } },
  { method: "DELETE", path: "/v1/subscriptions/{id}" },
  { method: "POST", path: "/v1/subscriptions/{id}/enable" },
  { method: "POST", path: "/v1/subscriptions/{id}/disable", body: { reason: "intruder" } },
  { method: "POST", path: "/v1/subscriptions/{id}/secrets/rotate", body: { overlap: "1h" } },
  { method: "POST", path: "/v1/subscriptions/{id}/test", body: { data: { from: "intruder" } } },
  { method: "GET", path: "/v1/subscriptions/{id}/attempts" },
  { method: "POST", path: "/v1/subscriptions/{id}/replay", body: { fromSeq: 1 } },
  { method: "GET", path: "/v1/events/{event}/attempts" },
  { method: "GET", path: "/v1/dlq" },
  { method: "GET", path: "/v1/dlq/{seq}" },
  { method: "POST", path: "/v1/dlq/redrive", body: { all: true } },
  { method: "DELETE", path: "/v1/dlq?all=true" },
];

/** The routes that answer without the token: operations, and the published OpenAPI document. */
export const PUBLIC_ROUTES: AdminRoute[] = [
  { method: "GET", path: "/healthz" },
  { method: "GET", path: "/readyz" },
  { method: "GET", path: "/metrics" },
  { method: "GET", path: "/v1/openapi.json" },
];

export function fillPath(path: string, params: { id: string; event: string; seq: string }): string {
  return path.replaceAll("{id}", params.id).replaceAll("{event}", params.event).replaceAll("{seq}", params.seq);
}

export function fillBody(body: unknown, id: string): unknown {
  return body === undefined ? undefined : JSON.parse(JSON.stringify(body).replaceAll("{id}", id));
}

/** Every stream's message count, first and last sequence: any write by a request shows here. */
export async function brokerSnapshot(nc: NatsConnection): Promise<Record<string, string>> {
  const jsm = await jetstreamManager(nc);
  const out: Record<string, string> = {};
  for await (const info of jsm.streams.list()) {
    const s = info.state;
    out[info.config.name] = `${s.messages} msgs, seq ${s.first_seq}..${s.last_seq}`;
  }
  return out;
}
