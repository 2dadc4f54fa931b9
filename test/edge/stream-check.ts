// For generated traffic: which event ids got a 202, and a check that the EVENTS stream holds
// exactly those (by the ce-id header each message carries), so nothing from a refused request
// got in and nothing accepted is missing.
import assert from "node:assert/strict";
import type { NatsConnection } from "@nats-io/nats-core";
import { streamEvents } from "./helpers.ts";
import type { WireAnswer } from "./wire.ts";

export type AcceptedIds = Set<string>;

/** Notes the ids a 202 answer accepted (a single event, or a batch's 202 results). */
export function noteAccepted(accepted: AcceptedIds, answer: WireAnswer): void {
  if (answer.status !== 202) return;
  const body = JSON.parse(answer.body);
  if (Array.isArray(body.results)) {
    for (const r of body.results) if (r.status === 202) accepted.add(r.id);
  } else accepted.add(body.id);
}

export async function assertStreamHoldsOnlyAccepted(nc: NatsConnection, accepted: AcceptedIds): Promise<{ inStream: number }> {
  const ids = (await streamEvents(nc)).map((event) => event.id);
  const seen = new Map<string, number>();
  for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
  const strays = [...seen.keys()].filter((id) => !accepted.has(id));
  assert.deepEqual(strays.slice(0, 20), [], `${strays.length} events in the stream never got a 202`);
  const twice = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
  assert.deepEqual(twice.slice(0, 20), [], `${twice.length} events are in the stream more than once`);
  const missing = [...accepted].filter((id) => !seen.has(id));
  assert.deepEqual(missing.slice(0, 20), [], `${missing.length} events got a 202 but are not in the stream`);
  return { inStream: ids.length };
}
