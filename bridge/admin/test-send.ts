// Test-send: one signed delivery of a synthetic event to a subscription's URL, right now, without
// retries, so an operator can see whether the receiver answers and verifies. Its record is built
// like a delivery's (attemptRecord), marked `source: "test"`; without a 2xx its outcome is
// `failed`, since nothing retries it.
import { nuid } from "@nats-io/nats-core";
import { decodeEvent, encodeEvent, natsHeadersOf } from "../../broker/index.ts";
import { attemptRecord, type AttemptLog } from "../recovery/attempt-log.ts";
import type { AttemptResult, Deliverer } from "../delivery/webhook-post.ts";
import { renderEvent } from "../delivery/event.ts";
import { signHeaders } from "../delivery/sign.ts";
import { liveSecrets, type Subscription } from "../subscriptions/model.ts";

const TEST_EVENT_TYPE = "jetgate.test";
const TEST_EVENT_SOURCE = "/jetgate/bridge";

export async function testSend(
  sub: Subscription,
  deps: { deliverer: Deliverer; attempts: AttemptLog; instance: string },
  data: unknown = { message: "Test delivery from Jetgate" },
): Promise<{ eventId: string; result: AttemptResult }> {
  const id = `test_${nuid.next()}`;
  // Encoded as the edge writes an event and read back as the runner reads one, so the test delivery
  // has exactly the body and headers a real one would.
  const message = encodeEvent({ id, source: TEST_EVENT_SOURCE, type: TEST_EVENT_TYPE, time: new Date().toISOString() }, new TextEncoder().encode(JSON.stringify(data)));
  const event = decodeEvent(message.subject, natsHeadersOf(message), message.data, id);
  const { body, headers } = renderEvent(event, sub.format);
  const ctx = { subscription: sub.id, event, source: "test" as const, streamSeq: 0, attempt: 1, startedAt: new Date(), instance: deps.instance };
  const result = await deps.deliverer.post({ url: sub.url, headers: { ...headers, ...signHeaders(event.webhookId, body, liveSecrets(sub)) }, body, timeoutMs: sub.timeoutMs });
  await deps.attempts.record(attemptRecord(ctx, result, result.ok ? "delivered" : "failed"));
  return { eventId: id, result };
}
