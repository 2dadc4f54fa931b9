// The SSRF guard holds against DNS rebinding and redirects. Every test runs on a network where
// names come from a table and sockets open only to loopback (loopback-net.ts), so the guard's
// failure would show as a refused non-loopback connect, never as traffic leaving the machine.
// The allow-list lets 127.0.0.2 through and leaves 127.0.0.1 refused (loopback), so a receiver on
// 127.0.0.2 stands for "an allowed outside address" and one on 127.0.0.1 for "the inside".
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { Deliverer } from "../../bridge/delivery/webhook-post.ts";
import { SubscriptionStore, createSubscription, listAttempts, listDeadLetters } from "../../bridge/index.ts";
import { ssrfPolicy } from "../../bridge/subscriptions/operations.ts";
import { startTestBroker } from "../harness/nats.ts";
import { startReceiver, type Receiver, type Script } from "../harness/receiver.ts";
import { loopbackNet } from "./loopback-net.ts";
import { addSubscription, publishEvent, startTestBridge, waitPulling, waitRunning, waitUntil, SECRET_A } from "./helpers.ts";

const ALLOWED = "127.0.0.2";
const INSIDE = "127.0.0.1";
const METADATA = "169.254.169.254";
const policy = ssrfPolicy({ ssrfAllow: [ALLOWED] });

/** A receiver on 127.0.0.2 and a trap on 127.0.0.1 with the same port, so only the address differs. */
async function twinReceivers(t: TestContext, script: Script): Promise<{ outside: Receiver; inside: Receiver; port: number }> {
  for (let tries = 0; tries < 10; tries++) {
    const outside = await startReceiver({ host: ALLOWED, script });
    const port = Number(new URL(outside.url).port);
    const inside = await startReceiver({ host: INSIDE, port }).catch(() => null);
    if (!inside) {
      await outside.stop();
      continue;
    }
    t.after(() => outside.stop());
    t.after(() => inside.stop());
    return { outside, inside, port };
  }
  throw new Error("no port free on both 127.0.0.1 and 127.0.0.2 after 10 tries");
}

function post(deliverer: Deliverer, url: string) {
  return deliverer.post({ url, headers: { "content-type": "application/json" }, body: "{}", timeoutMs: 5000 });
}

test("a name that resolves to an allowed address first and to 127.0.0.1 next is refused on the second connection; 127.0.0.1 sees nothing", async (t) => {
  // The outside receiver closes every connection, so each delivery opens (and resolves) anew.
  const { outside, inside, port } = await twinReceivers(t, () => ({ status: 200, headers: { connection: "close" } }));
  const net = loopbackNet({ "rebind.jetgate.test": (n) => (n === 0 ? [ALLOWED] : [INSIDE]) });
  const broker = await startTestBroker({ nodes: 1 });
  t.after(() => broker.stop());
  const bridge = await startTestBridge(broker, { ssrfAllow: [ALLOWED] }, { net: net.net });
  t.after(() => bridge.stop());
  const nc = await broker.connect();
  await addSubscription(nc, { id: "rebind", url: `http://rebind.jetgate.test:${port}/hook`, filter: "events.rebind.*", secret: SECRET_A, retry: { schedule: [] } });
  await waitRunning([bridge], "rebind");
  await waitPulling(nc, "rebind", 1);

  await publishEvent(nc, "rebind.first", {});
  await outside.waitFor(1);
  const second = await publishEvent(nc, "rebind.second", {});
  await waitUntil("the second delivery refused and dead-lettered", 10_000, async () => (await listDeadLetters(nc, { subscription: "rebind" })).length === 1);
  const attempts = await listAttempts(nc, { eventId: second.id });
  assert.deepEqual(attempts.map((a) => a.error), ["SSRF_REFUSED"]);
  assert.equal(outside.requests.length, 1);
  assert.equal(inside.requests.length, 0, "the inside receiver got no request");
  assert.ok(net.lookups.filter((h) => h === "rebind.jetgate.test").length >= 2, "the name was looked up again for the second connection");
  assert.deepEqual([...new Set(net.connects)], [ALLOWED], "sockets opened only to the address the guard allowed");
  assert.deepEqual(net.nonLoopback, []);
});

test("a name answering an allowed and an inside address together, or IPv4-mapped inside addresses, is refused before any connect", async (t) => {
  const { outside, inside, port } = await twinReceivers(t, () => ({ status: 200 }));
  const net = loopbackNet({
    "mixed.jetgate.test": () => [ALLOWED, INSIDE],
    "mixed-late.jetgate.test": () => [INSIDE, ALLOWED],
    "mapped.jetgate.test": () => [`::ffff:${INSIDE}`],
    "six.jetgate.test": () => ["::1"],
  });
  const deliverer = new Deliverer(policy, "test", 4, net.net);
  t.after(() => deliverer.close());
  for (const name of ["mixed", "mixed-late", "mapped", "six"]) {
    const result = await post(deliverer, `http://${name}.jetgate.test:${port}/hook`);
    assert.equal(result.error, "SSRF_REFUSED", `${name}: ${JSON.stringify(result)}`);
  }
  assert.deepEqual(net.connects, []);
  assert.equal(inside.requests.length + outside.requests.length, 0);
});

test("169.254.169.254 is refused before any connect: by name (also IPv4-mapped), and as a literal stored past the API", async (t) => {
  const net = loopbackNet({
    "metadata.jetgate.test": () => [METADATA],
    "metadata-mapped.jetgate.test": () => [`::ffff:${METADATA}`],
    "rebind-metadata.jetgate.test": (n) => (n === 0 ? [ALLOWED] : [METADATA]),
  });
  const { outside, port } = await twinReceivers(t, () => ({ status: 200, headers: { connection: "close" } }));
  const deliverer = new Deliverer(policy, "test", 4, net.net);
  t.after(() => deliverer.close());
  for (const url of [`http://metadata.jetgate.test/latest/meta-data/`, `http://metadata-mapped.jetgate.test/`, `http://${METADATA}/latest/meta-data/`, `http://[::ffff:${METADATA}]/`]) {
    const result = await post(deliverer, url);
    assert.equal(result.error, "SSRF_REFUSED", `${url}: ${JSON.stringify(result)}`);
  }
  // Allowed on the first lookup, the metadata address on the second.
  assert.equal((await post(deliverer, `http://rebind-metadata.jetgate.test:${port}/`)).ok, true);
  const again = await post(deliverer, `http://rebind-metadata.jetgate.test:${port}/`);
  assert.equal(again.error, "SSRF_REFUSED", JSON.stringify(again));
  assert.equal(outside.requests.length, 1);
  assert.deepEqual(net.nonLoopback, [], "the connect path never got a non-loopback address");
  assert.deepEqual([...new Set(net.connects)], [ALLOWED]);
});

test("a receiver answering 30x is not followed (not to 127.0.0.1, not to 169.254.169.254): the attempt fails with that status", async (t) => {
  const net = loopbackNet();
  const trap = await startReceiver({ host: INSIDE });
  t.after(() => trap.stop());
  let location = trap.url;
  let status = 302;
  const redirector = await startReceiver({ host: ALLOWED, script: () => ({ status, headers: { location } }) });
  t.after(() => redirector.stop());
  const deliverer = new Deliverer(policy, "test", 4, net.net);
  t.after(() => deliverer.close());
  for (const target of [trap.url, `http://${METADATA}/latest/meta-data/`, `http://localhost:${new URL(trap.url).port}/`]) {
    for (const code of [301, 302, 303, 307, 308]) {
      location = target;
      status = code;
      const result = await post(deliverer, redirector.url);
      assert.equal(result.ok, false, `${code} to ${target}`);
      assert.equal(result.status, code, `${code} to ${target}`);
    }
  }
  assert.equal(redirector.requests.length, 15);
  assert.equal(trap.requests.length, 0, "the redirect target got no request");
  assert.deepEqual([...new Set(net.connects)], [ALLOWED]);
  assert.deepEqual(net.nonLoopback, []);
});

test("through the bridge, a redirect counts as a failed attempt, is retried and dead-lettered, and its target sees nothing", async (t) => {
  const net = loopbackNet();
  const trap = await startReceiver({ host: INSIDE });
  t.after(() => trap.stop());
  const redirector = await startReceiver({ host: ALLOWED, script: () => ({ status: 307, headers: { location: trap.url } }) });
  t.after(() => redirector.stop());
  const broker = await startTestBroker({ nodes: 1 });
  t.after(() => broker.stop());
  const bridge = await startTestBridge(broker, { ssrfAllow: [ALLOWED] }, { net: net.net });
  t.after(() => bridge.stop());
  const nc = await broker.connect();
  await createSubscription(await SubscriptionStore.open(nc), { id: "redirected", url: redirector.url, filter: "events.redirect.me", secret: SECRET_A, retry: { schedule: [20], jitter: 0 } }, policy);
  await waitRunning([bridge], "redirected");
  await waitPulling(nc, "redirected", 1);
  const { id } = await publishEvent(nc, "redirect.me", {});
  await waitUntil("the redirected event dead-lettered", 10_000, async () => (await listDeadLetters(nc, { subscription: "redirected" })).length === 1);
  const attempts = await listAttempts(nc, { eventId: id });
  assert.deepEqual(attempts.map((a) => a.status), [307, 307]);
  assert.ok(attempts.every((a) => a.outcome !== "delivered"), JSON.stringify(attempts));
  assert.equal(trap.requests.length, 0);
  assert.deepEqual(net.nonLoopback, []);
});
