// The edge authenticates to NATS with NATS_USER + NATS_PASS (worker secrets on Cloudflare, the
// environment on Node), and the permissions the production config gives its `edge` user are
// enough to publish and take acks. Wrong credentials are a 503, never a 202, and store nothing.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { EVENTS_STREAM } from "../../broker/index.ts";
import { startTestBroker, type TestBroker } from "../harness/nats.ts";
import { EDGE_RUNTIMES, startTestEdge, type TestEdge } from "../harness/worker.ts";
import { VALID_ORDER_V2, writeTestRegistry } from "./fixtures.ts";
import { bearer, KEYS, testApiKeys } from "./helpers.ts";

const ROOT = join(import.meta.dirname, "../..");

/** The `EDGE = { … }` permissions block of the production example, as written there. */
function productionEdgePermissions(): string {
  const conf = readFileSync(join(ROOT, "deploy/nats/production/nats.conf"), "utf8");
  const match = /EDGE = (\{[\s\S]*?\n  \})/.exec(conf);
  assert.ok(match, "deploy/nats/production/nats.conf defines EDGE permissions");
  return match[1]!;
}

let broker: TestBroker;
const edges: TestEdge[] = [];

before(async () => {
  // The harness itself connects without credentials, as `harness`; the edge must log in as `edge`.
  broker = await startTestBroker({
    nodes: 1,
    extraConfig: `
authorization {
  EDGE = ${productionEdgePermissions()}
  users: [
    { user: edge, password: "edge-secret", permissions: $EDGE }
    { user: harness, password: "harness-secret" }
  ]
}
no_auth_user: harness
`,
  });
});
after(async () => {
  await Promise.allSettled(edges.map((e) => e.stop()));
  await broker?.stop();
});

async function storedCount(): Promise<number> {
  const jsm = await jetstreamManager(await broker.connect());
  return (await jsm.streams.info(EVENTS_STREAM)).state.messages;
}

for (const runtime of EDGE_RUNTIMES) {
  describe(`NATS credentials on ${runtime}`, () => {
    const start = async (pass: string) => {
      const edge = await startTestEdge({
        runtime,
        broker,
        registryDir: writeTestRegistry(),
        apiKeys: await testApiKeys(),
        vars: { NATS_USER: "edge", NATS_PASS: pass, PUBLISH_TIMEOUT_MS: "2000" },
      });
      edges.push(edge);
      return edge;
    };
    const post = (url: string, id: string) =>
      fetch(`${url}/v1/events/order.created`, {
        method: "POST",
        headers: { ...bearer(KEYS.full), "content-type": "application/json", "idempotency-key": id },
        body: JSON.stringify(VALID_ORDER_V2),
      });

    test("with the edge user's credentials an event is published under the production permissions", async () => {
      const edge = await start("edge-secret");
      const before = await storedCount();
      const res = await post(edge.url, `${runtime}-auth-ok`);
      assert.equal(res.status, 202, await res.clone().text());
      assert.equal((await res.json()).duplicate, false);
      assert.equal(await storedCount(), before + 1);
    });

    test("with a wrong password the edge answers 503 and /healthz says why; nothing is stored", async () => {
      const edge = await start("not-the-password");
      const before = await storedCount();
      const res = await post(edge.url, `${runtime}-auth-bad`);
      assert.equal(res.status, 503, await res.clone().text());
      assert.equal(res.headers.get("content-type"), "application/problem+json");
      const health = await fetch(`${edge.url}/healthz`);
      assert.equal(health.status, 503);
      const detail = JSON.stringify(await health.json());
      assert.match(detail, /"reachable":false/);
      // nats-server answers -ERR 'Authorization Violation'; over TCP nats-core reports it, while
      // the WebSocket transport in workerd may see only the closed socket (a connect timeout).
      if (runtime === "node") assert.match(detail, /auth/i);
      assert.equal(await storedCount(), before);
    });
  });
}
