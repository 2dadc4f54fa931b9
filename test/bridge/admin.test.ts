// The admin API, SSRF at delivery time, auto-disable, replay and graceful shutdown, each against
// its own single-node broker (the cluster behaviour is covered in delivery/instances tests).
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { Webhook } from "standardwebhooks";
import { startTestBroker, type TestBroker } from "../harness/nats.ts";
import { startReceiver, type Receiver, type Script } from "../harness/receiver.ts";
import { SubscriptionStore, parseSubscription, listAttempts, type RunningBridge, type BridgeConfig } from "../../bridge/index.ts";
import { guardedLookup } from "../../bridge/delivery/ssrf.ts";
import { publishEvent, startTestBridge, addSubscription, waitRunning, waitPulling, waitUntil, SECRET_A } from "./helpers.ts";
import { AdminExchanges } from "./admin-exchanges.ts";

const TOKEN = "test-admin-token";
/** Every admin exchange of this suite, checked against the OpenAPI document by the last test. */
const exchanges = new AdminExchanges();

async function setup(t: TestContext, opts: { config?: Partial<BridgeConfig>; script?: Script } = {}): Promise<{ broker: TestBroker; bridge: RunningBridge; rx: Receiver }> {
  const broker = await startTestBroker({ nodes: 1 });
  t.after(() => broker.stop());
  const rx = await startReceiver(opts.script ? { script: opts.script } : {});
  t.after(() => rx.stop());
  const bridge = await startTestBridge(broker, opts.config ?? {});
  t.after(() => bridge.stop());
  return { broker, bridge, rx };
}

function api(bridge: RunningBridge, method: string, path: string, body?: unknown, token = TOKEN): Promise<Response> {
  return exchanges.fetch(`${bridge.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

test("the admin API manages subscriptions behind a bearer token and answers errors as problem+json", async (t) => {
  const { bridge, rx, broker } = await setup(t);
  const denied = await api(bridge, "GET", "/v1/subscriptions", undefined, "wrong-token");
  assert.equal(denied.status, 401);
  assert.equal(denied.headers.get("content-type"), "application/problem+json");
  assert.equal(((await denied.json()) as { code: string }).code, "UNAUTHORIZED");

  const refused = await api(bridge, "POST", "/v1/subscriptions", { id: "meta", url: "http://169.254.169.254/latest" });
  assert.equal(refused.status, 422);
  assert.equal(((await refused.json()) as { code: string }).code, "SSRF_REFUSED");
  const invalid = await api(bridge, "POST", "/v1/subscriptions", { id: "x", url: "nope" });
  const problem = (await invalid.json()) as { code: string; errors: Array<{ path: string }> };
  assert.equal(problem.code, "SUBSCRIPTION_INVALID");
  assert.ok(problem.errors.some((e) => e.path === "url"));

  const created = await api(bridge, "POST", "/v1/subscriptions", { id: "api", url: rx.url, filter: "events.api.thing", retry: { schedule: ["50ms"] } });
  assert.equal(created.status, 201);
  const { secret } = (await created.json()) as { secret: string };
  assert.match(secret, /^whsec_/);
  assert.equal((await api(bridge, "POST", "/v1/subscriptions", { id: "api", url: rx.url })).status, 409);
  const listed = (await (await api(bridge, "GET", "/v1/subscriptions")).json()) as { subscriptions: Array<{ id: string; secrets: Array<{ secret: string }> }> };
  assert.deepEqual(listed.subscriptions.map((s) => s.id), ["api"]);
  assert.ok(!listed.subscriptions[0]!.secrets[0]!.secret.includes(secret.slice(12)), "listings never show a whole secret");

  const sent = (await (await api(bridge, "POST", "/v1/subscriptions/api/test")).json()) as { eventId: string; result: { ok: boolean } };
  assert.equal(sent.result.ok, true);
  const [testReq] = await rx.waitFor(1);
  assert.doesNotThrow(() => new Webhook(secret).verify(testReq!.body, testReq!.headers));

  const patched = (await (await api(bridge, "PATCH", "/v1/subscriptions/api", { maxConcurrency: 3 })).json()) as { subscription: { maxConcurrency: number; url: string } };
  assert.equal(patched.subscription.maxConcurrency, 3);
  assert.equal(patched.subscription.url, rx.url);

  const nc = await broker.connect();
  await waitRunning([bridge], "api");
  await waitPulling(nc, "api", 1);
  const { id } = await publishEvent(nc, "api.thing", { a: 1 });
  await rx.waitFor(2);
  await waitUntil("attempt logged", 5000, async () => {
    const body = (await (await api(bridge, "GET", `/v1/events/${id}/attempts`)).json()) as { attempts: Array<{ outcome: string; status: number }> };
    return body.attempts.length === 1 && body.attempts[0]!.outcome === "delivered" && body.attempts[0]!.status === 200;
  });
  const perSub = (await (await api(bridge, "GET", "/v1/subscriptions/api/attempts")).json()) as { attempts: Array<{ eventId: string }> };
  assert.deepEqual(perSub.attempts.map((a) => a.eventId), [sent.eventId, id]);
  // A receiver's failure is the answer's data, not an error of the admin API (never a 5xx).
  rx.setScript(() => ({ status: 500 }));
  const failed = await api(bridge, "POST", "/v1/subscriptions/api/test");
  assert.equal(failed.status, 200);
  assert.equal(((await failed.json()) as { result: { ok: boolean } }).result.ok, false);
  rx.setScript(() => ({ status: 200 }));

  const metrics = await (await exchanges.fetch(`${bridge.url}/metrics`)).text();
  for (const name of ["jetgate_deliveries_total", "jetgate_delivery_attempt_seconds", "jetgate_consumer_lag", "jetgate_dlq_depth", "jetgate_deliveries_in_flight"]) {
    assert.ok(metrics.includes(name), `metrics expose ${name}`);
  }
  assert.equal((await exchanges.fetch(`${bridge.url}/healthz`)).status, 200);
  assert.equal((await exchanges.fetch(`${bridge.url}/readyz`)).status, 200);

  const disabled = (await (await api(bridge, "POST", "/v1/subscriptions/api/disable", { reason: "maintenance" })).json()) as { subscription: { enabled: boolean } };
  assert.equal(disabled.subscription.enabled, false);
  await waitUntil("runner stopped", 5000, () => !bridge.manager.running().includes("api"));
  await api(bridge, "POST", "/v1/subscriptions/api/enable");
  await waitRunning([bridge], "api");
  assert.equal((await api(bridge, "DELETE", "/v1/subscriptions/api")).status, 204);
  assert.equal((await api(bridge, "GET", "/v1/subscriptions/api")).status, 404);
});

test("PUT replaces a subscription's spec, keeping its secrets; a rotation answers the new secret once and gives the old one an end (the overlap)", async (t) => {
  const { bridge, rx } = await setup(t);
  const created = await api(bridge, "POST", "/v1/subscriptions", { id: "spec", url: rx.url, types: ["api.*", "api.thing@1"], where: "data.n > 1", rateLimit: 20, metadata: { team: "a" } });
  assert.equal(created.status, 201);
  const { secret: first } = (await created.json()) as { secret: string };
  const replaced = await api(bridge, "PUT", "/v1/subscriptions/spec", { url: `${rx.url}/v2`, filter: "events.api.>", timeout: "2s", retry: { schedule: ["1s", "1m"], jitter: 0.1 } });
  assert.equal(replaced.status, 200);
  const { subscription } = (await replaced.json()) as { subscription: Record<string, unknown> };
  assert.deepEqual([subscription.filter, subscription.types, subscription.where, subscription.timeoutMs, subscription.metadata], ["events.api.>", undefined, undefined, 2000, {}], "members not given take their defaults");
  assert.deepEqual((subscription.secrets as Array<{ secret: string }>).map((s) => s.secret), [`${first.slice(0, 10)}…`], "the secret is kept");
  const rotated = await api(bridge, "POST", "/v1/subscriptions/spec/secrets/rotate", { overlap: "1h" });
  assert.equal(rotated.status, 200);
  const { secret: second, subscription: after } = (await rotated.json()) as { secret: string; subscription: { secrets: Array<{ secret: string; notAfter?: string }> } };
  assert.match(second, /^whsec_/);
  assert.notEqual(second, first);
  assert.deepEqual(after.secrets.map((s) => [s.secret, s.notAfter !== undefined]), [[`${first.slice(0, 10)}…`, true], [`${second.slice(0, 10)}…`, false]]);
  const bad = await api(bridge, "POST", "/v1/subscriptions/spec/secrets/rotate", { overlap: "forever" });
  assert.equal(((await bad.json()) as { code: string }).code, "REQUEST_INVALID");
  const both = await api(bridge, "PUT", "/v1/subscriptions/spec", { url: rx.url, types: ["a.*"], filter: "events.>" });
  assert.equal(((await both.json()) as { code: string }).code, "SUBSCRIPTION_INVALID", "types and filter together are refused");
});

test("DLQ list, show, redrive and purge through the API; replay of a sequence range reaches one subscription", async (t) => {
  let failing = true;
  const { bridge, rx, broker } = await setup(t, { script: () => ({ status: failing ? 500 : 200 }) });
  const other = await startReceiver();
  t.after(() => other.stop());
  const nc = await broker.connect();
  await addSubscription(nc, { id: "dl", url: rx.url, filter: "events.dl.*", secret: SECRET_A, retry: { schedule: [20], jitter: 0 } });
  await addSubscription(nc, { id: "other", url: other.url, filter: "events.dl.*", secret: SECRET_A });
  await waitRunning([bridge], "dl");
  await waitPulling(nc, "dl", 1);
  const first = await publishEvent(nc, "dl.one", { n: 1 });
  const second = await publishEvent(nc, "dl.two", { n: 2 });
  let letters: Array<{ seq: number; eventType: string }> = [];
  await waitUntil("two dead letters", 10_000, async () => {
    letters = ((await (await api(bridge, "GET", "/v1/dlq?subscription=dl")).json()) as { deadLetters: typeof letters }).deadLetters;
    return letters.length === 2;
  });
  // The two events fail side by side, so either may be dead-lettered first: pick dl.one's letter.
  const letterOfFirst = letters.find((l) => l.eventType === "dl.one");
  assert.ok(letterOfFirst, `a dead letter for dl.one among ${JSON.stringify(letters)}`);
  const shown = (await (await api(bridge, "GET", `/v1/dlq/${letterOfFirst.seq}`)).json()) as { deadLetter: { history: unknown[]; eventId: string } };
  assert.equal(shown.deadLetter.history.length, 2);
  assert.equal(shown.deadLetter.eventId, first.id);
  assert.equal(((await (await api(bridge, "GET", "/v1/dlq/99999")).json()) as { code: string }).code, "DLQ_NOT_FOUND");
  failing = false;
  const redriven = (await (await api(bridge, "POST", "/v1/dlq/redrive", { subscription: "dl", type: "dl.one" })).json()) as { redriven: number };
  assert.equal(redriven.redriven, 1);
  await rx.waitFor(5);
  assert.equal((await (await api(bridge, "DELETE", "/v1/dlq?subscription=dl")).json() as { purged: number }).purged, 1);

  const before = rx.requests.length;
  // "other" got both events live; wait for them, or a late live delivery would read as a replay.
  await other.waitFor(2);
  const otherBefore = other.requests.length;
  const replay = (await (await api(bridge, "POST", "/v1/subscriptions/dl/replay", { fromSeq: first.seq, toSeq: first.seq + 1 })).json()) as { replayed: number };
  assert.equal(replay.replayed, 2);
  const reqs = await rx.waitFor(before + 2);
  assert.deepEqual(new Set(reqs.slice(before).map((r) => r.headers["ce-id"] ?? (JSON.parse(r.body) as { id: string }).id)).size, 2);
  assert.deepEqual(new Set(reqs.slice(before).map((r) => r.headers["webhook-id"])), new Set([first.webhookId, second.webhookId]), "a replay keeps each event's webhook-id");
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(other.requests.length, otherBefore, "a replay reaches only its subscription");
});

test("SSRF: deliveries to refused addresses are never sent, also when the name resolves inward", async (t) => {
  const { bridge, rx, broker } = await setup(t, { config: { ssrfAllow: [] } });
  const nc = await broker.connect();
  // Written straight to the bucket, past the API's check, as if the policy had been tightened since.
  const store = await SubscriptionStore.open(nc);
  const parsed = parseSubscription({ id: "inward", url: rx.url, filter: "events.ssrf.probe", secret: SECRET_A, retry: { schedule: [] } });
  assert.ok(parsed.ok);
  await store.create(parsed.value);
  await waitRunning([bridge], "inward");
  await waitPulling(nc, "inward", 1);
  const { id } = await publishEvent(nc, "ssrf.probe", {});
  await waitUntil("refused attempt logged", 5000, async () => (await listAttempts(nc, { eventId: id })).some((a) => a.error === "SSRF_REFUSED"));
  assert.equal(rx.requests.length, 0);
  const refused = await new Promise<{ code?: string }>((resolve) =>
    guardedLookup({ allow: [], httpsOnly: false })("localhost", {}, (err) => resolve((err as unknown as { code?: string }) ?? {})),
  );
  assert.equal(refused.code, "SSRF_REFUSED");
});

test("a subscription failing for longer than the auto-disable period is disabled", async (t) => {
  const { bridge, rx, broker } = await setup(t, { config: { autoDisableAfterMs: 300, autoDisableMinFailures: 3 }, script: () => ({ status: 500 }) });
  const nc = await broker.connect();
  await addSubscription(nc, { id: "flaky", url: rx.url, filter: "events.always.fails", secret: SECRET_A, retry: { schedule: Array(30).fill(60), jitter: 0 } });
  await waitRunning([bridge], "flaky");
  await waitPulling(nc, "flaky", 1);
  await publishEvent(nc, "always.fails", {});
  const store = await SubscriptionStore.open(nc);
  await waitUntil("auto-disabled", 10_000, async () => (await store.require("flaky")).sub.enabled === false);
  assert.match((await store.require("flaky")).sub.disabledReason ?? "", /^auto-disabled/);
});

test("graceful shutdown finishes in-flight deliveries, and naks what the deadline cuts off", async (t) => {
  const { bridge, rx, broker } = await setup(t, { config: { shutdownDeadlineMs: 1000 }, script: (req) => ({ status: 200, delayMs: JSON.parse(req.body).data.slow ? 5000 : 300 }) });
  const nc = await broker.connect();
  await addSubscription(nc, { id: "drain", url: rx.url, filter: "events.drain.me", secret: SECRET_A, timeout: "10s", ackWait: "60s" });
  await waitRunning([bridge], "drain");
  await waitPulling(nc, "drain", 1);
  const fast = await publishEvent(nc, "drain.me", { slow: false });
  const slow = await publishEvent(nc, "drain.me", { slow: true });
  await rx.waitFor(2);
  const started = Date.now();
  await bridge.stop();
  assert.ok(Date.now() - started < 4000, "stop() kept its deadline");
  // The slow one was nak'ed, so a successor gets it within seconds instead of after the 60s
  // AckWait; the fast one was acked and never comes again.
  rx.setScript(() => ({ status: 200 }));
  const successor = await startTestBridge(broker);
  t.after(() => successor.stop());
  const reqs = await rx.waitFor(3, 15_000);
  assert.ok(Date.now() - started < 15_000);
  await new Promise((r) => setTimeout(r, 300));
  const ids = rx.requests.map((r) => r.headers["webhook-id"]);
  assert.equal(ids.filter((id) => id === fast.webhookId).length, 1);
  assert.equal(ids.filter((id) => id === slow.webhookId).length, 2);
  assert.equal(reqs.length, 3);
});

test("every admin answer of this suite matches the OpenAPI document (bridge/admin/openapi.ts)", () => {
  const checked = exchanges.assertMatchOpenApi();
  assert.ok(checked >= 20, `checked ${checked} answers`);
});
