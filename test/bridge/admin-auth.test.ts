// The admin API refuses every route without its token: 401 problem+json, and nothing changes —
// no stream of the broker gets a message or loses one, no receiver is called, the subscription is
// as it was. The token is compared in constant time (by fixed-size digests); that is tested as
// behaviour (near misses refused), never by timing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startTestBroker } from "../harness/nats.ts";
import { startReceiver } from "../harness/receiver.ts";
import { tokenMatches } from "../../bridge/admin/api.ts";
import { SubscriptionStore, listDeadLetters } from "../../bridge/index.ts";
import { adminOpenApi } from "../../bridge/admin/openapi.ts";
import { ADMIN_ROUTES, PUBLIC_ROUTES, brokerSnapshot, fillBody, fillPath } from "./admin-routes.ts";
import { AdminExchanges } from "./admin-exchanges.ts";
import { addSubscription, publishEvent, startTestBridge, waitPulling, waitRunning, waitUntil, SECRET_A } from "./helpers.ts";

const TOKEN = "test-admin-token";
/** Every admin exchange of this suite, checked against the OpenAPI document by the last test. */
const exchanges = new AdminExchanges();

/** What a caller without the token might send. */
const BAD_AUTHORIZATIONS: Array<[string, string | undefined]> = [
  ["no header", undefined],
  ["an empty header", ""],
  ["the scheme alone", "Bearer"],
  ["an empty token", "Bearer "],
  ["a wrong token", "Bearer wrong-token"],
  ["the last byte changed", `Bearer ${TOKEN.slice(0, -1)}x`],
  ["one byte longer", `Bearer ${TOKEN}x`],
  ["one byte shorter", `Bearer ${TOKEN.slice(0, -1)}`],
  ["a prefix", `Bearer ${TOKEN.slice(0, 4)}`],
  ["upper-cased", `Bearer ${TOKEN.toUpperCase()}`],
  ["a Latin-1 byte added", `Bearer ${TOKEN}é`],
  ["the token without a scheme", TOKEN],
  ["the token as Basic credentials", `Basic ${Buffer.from(`admin:${TOKEN}`).toString("base64")}`],
  ["two tokens", `Bearer ${TOKEN} ${TOKEN}`],
];

test("tokenMatches accepts the token and refuses every near miss", () => {
  assert.equal(tokenMatches(TOKEN, TOKEN), true);
  for (const given of ["", TOKEN.slice(0, -1), `${TOKEN}x`, `${TOKEN.slice(0, -1)}x`, TOKEN.toUpperCase(), `${TOKEN}é`, "😀", "\0"]) {
    assert.equal(tokenMatches(given, TOKEN), false, JSON.stringify(given));
  }
  assert.equal(tokenMatches("é€😀", "é€😀"), true, "a non-ASCII token works for its owner");
});

test("every admin route answers 401 problem+json without the right token, and changes nothing", async (t) => {
  const broker = await startTestBroker({ nodes: 1 });
  t.after(() => broker.stop());
  const rx = await startReceiver({ script: () => ({ status: 500 }) });
  t.after(() => rx.stop());
  const bridge = await startTestBridge(broker, { adminToken: TOKEN });
  t.after(() => bridge.stop());
  const nc = await broker.connect();

  // Something for every route to act on: a subscription, an attempt record and a dead letter.
  await addSubscription(nc, { id: "keep", url: rx.url, filter: "events.auth.probe", secret: SECRET_A, retry: { schedule: [] } });
  await waitRunning([bridge], "keep");
  await waitPulling(nc, "keep", 1);
  const { id: eventId } = await publishEvent(nc, "auth.probe", { n: 1 });
  let seq = 0;
  await waitUntil("the event dead-lettered", 10_000, async () => {
    const letters = await listDeadLetters(nc, { subscription: "keep" });
    seq = letters[0]?.seq ?? 0;
    return letters.length === 1;
  });
  rx.setScript(() => ({ status: 200 }));
  const store = await SubscriptionStore.open(nc);
  const before = await store.require("keep");
  const calls = rx.requests.length;
  // The bridge settles what it did above (ack, attempt log, health) before the baseline is taken.
  let snapshot = await brokerSnapshot(nc);
  await waitUntil("the broker at rest", 10_000, async () => {
    await new Promise((r) => setTimeout(r, 300));
    const next = await brokerSnapshot(nc);
    const same = JSON.stringify(next) === JSON.stringify(snapshot);
    snapshot = next;
    return same;
  });

  let refusals = 0;
  for (const route of ADMIN_ROUTES) {
    const path = fillPath(route.path, { id: "keep", event: eventId, seq: String(seq) });
    const body = fillBody(route.body, "keep");
    for (const [what, authorization] of BAD_AUTHORIZATIONS) {
      const res = await exchanges.fetch(bridge.url + path, {
        method: route.method,
        headers: { ...(authorization === undefined ? {} : { authorization }), ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const where = `${route.method} ${route.path} with ${what}`;
      assert.equal(res.status, 401, `${where}: ${await res.clone().text()}`);
      assert.equal(res.headers.get("content-type"), "application/problem+json", where);
      assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer /, where);
      const problem = (await res.json()) as { type: string; title: string; status: number; code: string };
      assert.deepEqual(
        [problem.status, problem.code, problem.type, problem.title],
        [401, "UNAUTHORIZED", "https://jetgate.dev/problems/bridge/unauthorized", "A valid bearer token is required"],
        where,
      );
      refusals++;
    }
  }
  assert.equal(refusals, ADMIN_ROUTES.length * BAD_AUTHORIZATIONS.length);

  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(await brokerSnapshot(nc), snapshot, "no stream changed (subscriptions, health, DLQ, attempts, redrive, EVENTS)");
  assert.equal(rx.requests.length, calls, "no receiver was called (test-send, replay, redrive)");
  assert.deepEqual(await store.require("keep"), before, "the subscription is as it was (same revision, same secrets)");
  assert.equal((await store.list()).length, 1, "no subscription was created");

  // The same routes answer with the token: the refusals above were the token's doing. The
  // scheme is case-insensitive (RFC 6750 §2.1 via RFC 7235 §2.1).
  for (const authorization of [`Bearer ${TOKEN}`, `bearer ${TOKEN}`, `BEARER  ${TOKEN} `]) {
    const res = await exchanges.fetch(`${bridge.url}/v1/subscriptions`, { headers: { authorization } });
    assert.equal(res.status, 200, authorization);
  }
});

test("with no admin token configured every admin route answers 503 problem+json, whatever is sent", async (t) => {
  const broker = await startTestBroker({ nodes: 1 });
  t.after(() => broker.stop());
  const bridge = await startTestBridge(broker, { adminToken: undefined });
  t.after(() => bridge.stop());
  for (const route of ADMIN_ROUTES) {
    const path = fillPath(route.path, { id: "keep", event: "e1", seq: "1" });
    for (const authorization of [undefined, "Bearer ", `Bearer ${TOKEN}`, "Bearer undefined"]) {
      const res = await exchanges.fetch(bridge.url + path, { method: route.method, headers: authorization === undefined ? {} : { authorization } });
      const where = `${route.method} ${route.path} with ${JSON.stringify(authorization)}`;
      assert.equal(res.status, 503, where);
      assert.equal(res.headers.get("content-type"), "application/problem+json", where);
      assert.equal(((await res.json()) as { code: string }).code, "ADMIN_DISABLED", where);
    }
  }
});

test("the public routes answer without the token, also when none is configured: health, readiness, metrics, the OpenAPI document", async (t) => {
  const broker = await startTestBroker({ nodes: 1 });
  t.after(() => broker.stop());
  for (const adminToken of [TOKEN, undefined]) {
    const bridge = await startTestBridge(broker, { adminToken });
    try {
      for (const route of PUBLIC_ROUTES) {
        for (const authorization of [undefined, "Bearer wrong-token"]) {
          const res = await exchanges.fetch(bridge.url + route.path, { headers: authorization === undefined ? {} : { authorization } });
          assert.equal(res.status, 200, `${route.path} with ${String(authorization)}, admin token ${String(adminToken)}`);
        }
      }
      const served = await (await exchanges.fetch(`${bridge.url}/v1/openapi.json`)).json();
      assert.deepEqual(served, JSON.parse(JSON.stringify(adminOpenApi)), "the served document is the one the suites check against");
      // Only its GET is public: another method on the path is behind the token like every /v1 route.
      const post = await exchanges.fetch(`${bridge.url}/v1/openapi.json`, { method: "POST" });
      assert.equal(post.status, adminToken ? 401 : 503);
    } finally {
      await bridge.stop();
    }
  }
});

test("every answer of this suite, each refusal included, matches the OpenAPI document", () => {
  const checked = exchanges.assertMatchOpenApi();
  assert.ok(checked > ADMIN_ROUTES.length * 14, `checked ${checked} answers`);
});
