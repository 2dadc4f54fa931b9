// Test-send: one signed delivery of a synthetic event to a subscription's URL, right now, without
// retries, so an operator can see whether the receiver answers and verifies.
import { nuid } from "@nats-io/nats-core";
import type { AttemptLog } from "./attempts.ts";
import type { AttemptResult, Deliverer } from "./deliver.ts";
import { renderEvent, type EventEnvelope } from "./event.ts";
import { signHeaders } from "./sign.ts";
import { liveSecrets, type Subscription } from "./subscriptions.ts";

export const TEST_EVENT_TYPE = "jetgate.test";

export async function testSend(
  sub: Subscription,
  deps: { deliverer: Deliverer; attempts: AttemptLog; instance: string },
  data: unknown = { message: "Test delivery from Jetgate" },
): Promise<{ eventId: string; result: AttemptResult }> {
  const id = `test_${nuid.next()}`;
  const event: EventEnvelope = {
    id,
    webhookId: id,
    type: TEST_EVENT_TYPE,
    subject: `events.${TEST_EVENT_TYPE}`,
    headerAttributes: { specversion: "1.0", id, source: "/jetgate/bridge", type: TEST_EVENT_TYPE, time: new Date().toISOString() },
    contentType: "application/json",
    data: new TextEncoder().encode(JSON.stringify(data)),
  };
  const { body, headers } = renderEvent(event, sub.format);
  const at = new Date();
  const result = await deps.deliverer.post({ url: sub.url, headers: { ...headers, ...signHeaders(id, body, liveSecrets(sub)) }, body, timeoutMs: sub.timeoutMs });
  await deps.attempts.record({
    subscription: sub.id,
    eventId: id,
    eventType: TEST_EVENT_TYPE,
    source: "test",
    streamSeq: 0,
    attempt: 1,
    at: at.toISOString(),
    status: result.status,
    latencyMs: result.latencyMs,
    outcome: result.ok ? "delivered" : "retrying",
    ...(result.error ? { error: result.error } : {}),
    ...(result.excerpt ? { excerpt: result.excerpt } : {}),
    instance: deps.instance,
  });
  return { eventId: id, result };
}
