// The foundation promise: no 202 without a JetStream ack. While the whole cluster is down the
// edge answers 503 with Retry-After; the same request succeeds once the cluster is back, and
// the stream then holds that event exactly once. Both runtimes face the same outage.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startTestBroker, type TestBroker } from "../harness/nats.ts";
import { EDGE_RUNTIMES, startTestEdge, type TestEdge } from "../harness/worker.ts";
import { writeTestRegistry, VALID_ORDER_V2 } from "./fixtures.ts";
import { assertStreamMatchesLedger, bearer, KEYS, Ledger, send, testApiKeys, waitUntil } from "./helpers.ts";

let broker: TestBroker;
const edges: TestEdge[] = [];
const ledger = new Ledger();

before(async () => {
  broker = await startTestBroker({ nodes: 3 });
  const registryDir = writeTestRegistry();
  const apiKeys = await testApiKeys();
  for (const runtime of EDGE_RUNTIMES) {
    edges.push(await startTestEdge({ runtime, broker, registryDir, apiKeys, vars: { PUBLISH_TIMEOUT_MS: "2000" } }));
  }
});

after(async () => {
  await Promise.allSettled(edges.map((e) => e.stop()));
  await broker?.stop();
});

const post = (edge: TestEdge, id: string) =>
  send(ledger, edge.url, {
    path: "/v1/events/order.created",
    method: "POST",
    headers: { ...bearer(KEYS.full), "content-type": "application/json", "idempotency-key": id },
    body: JSON.stringify(VALID_ORDER_V2),
  });

test("no 202 while the cluster is down: 503 with Retry-After, then the same request succeeds once it is back", async () => {
  for (const edge of edges) {
    const before = await post(edge, `outage-warmup-${edge.runtime}`);
    assert.equal(before.status, 202, `${edge.runtime}: warm-up publish`);
  }
  for (const i of [0, 1, 2]) await broker.stopNode(i);

  for (const edge of edges) {
    await waitUntil(`${edge.runtime} /healthz to report the broker unreachable`, 15_000, async () => {
      const res = await fetch(`${edge.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
      return res.status === 503 && (await res.json()).broker.reachable === false;
    });
    const down = await post(edge, `outage-${edge.runtime}`);
    assert.equal(down.status, 503, `${edge.runtime}: ${JSON.stringify(down.body)}`);
    assert.match(down.body.type, /\/problems\/(broker-unavailable|publish-timeout)$/);
    assert.ok(Number(down.headers.get("retry-after")) >= 1, "Retry-After is set");
    assert.equal(down.headers.get("content-type"), "application/problem+json");
  }

  for (const i of [0, 1, 2]) await broker.startNode(i);
  // A full restart from stored data re-elects the meta leader in ~5–25 s here (cluster.test.ts).
  await broker.ready(60_000);

  for (const edge of edges) {
    let last = 0;
    await waitUntil(`${edge.runtime} to accept the retried event`, 45_000, async () => {
      const again = await post(edge, `outage-${edge.runtime}`);
      last = again.status;
      if (again.status === 202) {
        assert.equal(again.body.id, `outage-${edge.runtime}`);
        return true;
      }
      assert.equal(again.status, 503, "while recovering, only 503 is acceptable");
      return false;
    });
    assert.equal(last, 202);
  }
  const nc = await broker.connect();
  await assertStreamMatchesLedger(nc, ledger);
});
