// Secrets never reach a log. One run through the edge (workerd and Node, request logs on) and the
// bridge (pino at trace), with every kind of secret in use — API keys, webhook secrets (one
// rotated), the admin token, NATS user/password for both — over success and failure paths: bad
// keys, a key sent in the query string, a failing receiver that ends in the DLQ, admin calls with
// a bad token, an edge and a bridge with a wrong NATS password. Then every captured line (edge
// output, bridge logs, this process's stdout/stderr, error messages) is searched for every secret
// and for the base64 key of each whsec_ secret.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { pino } from "pino";
import { hashApiKey } from "../../worker/auth/keys.ts";
import { startBridge, loadBridgeConfig, listDeadLetters, type RunningBridge } from "../../bridge/index.ts";
import { startTestBroker } from "../harness/nats.ts";
import { startReceiver } from "../harness/receiver.ts";
import { EDGE_RUNTIMES, startTestEdge } from "../harness/worker.ts";
import { VALID_ORDER_V2, writeTestRegistry } from "../edge/fixtures.ts";
import { loopbackNet } from "../bridge/loopback-net.ts";
import { waitUntil } from "../bridge/helpers.ts";

const API_KEY = "jg_live_k3Y-n0t-f0r-l0gs_9f8e7d6c5b4a";
const OTHER_KEY = "jg_live_0th3r-k3y_a1b2c3d4e5f6";
const ADMIN_TOKEN = "adm_t0k3n-n3v3r-l0gg3d-77f1c2";
const EDGE_PASS = "edge-pa55-n3v3r-l0gg3d";
const BRIDGE_PASS = "br1dge-pa55-n3v3r-l0gg3d";
const WRONG_PASS = "wr0ng-pa55-n3v3r-l0gg3d";
const GIVEN_SECRET = "whsec_c2VjcmV0LWdpdmVuLWJ5LXRoZS10ZXN0LTEyMzQ1Njc4";
const ROTATED_SECRET = "whsec_cm90YXRlZC1zZWNyZXQtZ2l2ZW4tYnktdGhlLXRlc3Q5";

/** Everything this process writes to stdout/stderr while `run` runs, plus what it returns. */
async function captureProcessOutput<T>(lines: string[], run: () => Promise<T>): Promise<T> {
  const streams = [process.stdout, process.stderr] as const;
  const originals = streams.map((s) => s.write.bind(s));
  streams.forEach((s, i) => {
    s.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      lines.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      return (originals[i] as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof s.write;
  });
  try {
    return await run();
  } finally {
    streams.forEach((s, i) => (s.write = originals[i]!));
  }
}

test("no secret (API keys, webhook secrets, admin token, NATS passwords) appears in any log of the edge or the bridge", async (t) => {
  const logs = { edge: [] as string[], bridge: [] as string[], process: [] as string[], errors: [] as string[] };
  const secrets = new Set([API_KEY, OTHER_KEY, ADMIN_TOKEN, EDGE_PASS, BRIDGE_PASS, WRONG_PASS, GIVEN_SECRET, ROTATED_SECRET]);

  const broker = await startTestBroker({
    nodes: 1,
    extraConfig: `
authorization {
  users: [
    { user: edge, password: "${EDGE_PASS}" }
    { user: bridge, password: "${BRIDGE_PASS}" }
    { user: harness, password: "harness-not-a-test-secret" }
  ]
}
no_auth_user: harness
`,
  });
  t.after(() => broker.stop());
  const nc = await broker.connect();
  const ok = await startReceiver();
  t.after(() => ok.stop());
  const failing = await startReceiver({ script: () => ({ status: 500, body: "receiver broke" }) });
  t.after(() => failing.stop());

  await captureProcessOutput(logs.process, async () => {
    // ---- the bridge, logging everything at trace, logged in to NATS with a password ----
    const logger = pino({ level: "trace", base: { service: "jetgate-bridge" } }, new Writable({ write: (chunk, _enc, done) => (logs.bridge.push(String(chunk)), done()) }));
    const net = loopbackNet();
    const config = (pass: string) =>
      loadBridgeConfig({ JETGATE_BRIDGE_NATS_USER: "bridge", JETGATE_BRIDGE_NATS_PASS: pass }, { servers: broker.servers, port: 0, ssrfAllow: ["127.0.0.1"], adminToken: ADMIN_TOKEN, logLevel: "trace", shutdownDeadlineMs: 2000 });
    const refused = await startBridge(config(WRONG_PASS), { logger, net: net.net }).then(
      (b) => b,
      (err: Error) => {
        logs.errors.push(String(err), err.stack ?? "", JSON.stringify(err), String((err as { cause?: unknown }).cause ?? ""));
        return null;
      },
    );
    if (refused) await refused.stop();
    assert.ok(refused === null, "a bridge with a wrong NATS password does not start");
    // Credentials in a server URL are refused by the config check, whose message does not repeat them.
    try {
      loadBridgeConfig({}, { servers: broker.servers.map((s) => s.replace("nats://", `nats://bridge:${WRONG_PASS}@`)) });
      assert.fail("credentials in a server URL are refused");
    } catch (err) {
      assert.equal((err as { code?: string }).code, "CONFIG_INVALID");
      logs.errors.push(String(err), JSON.stringify(err));
    }
    const bridge: RunningBridge = await startBridge(config(BRIDGE_PASS), { logger, net: net.net });
    t.after(() => bridge.stop());
    const admin = (method: string, path: string, body?: unknown, token = ADMIN_TOKEN) =>
      fetch(bridge.url + path, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });

    // Subscriptions: one with a given secret, rotated to another given one; one with a generated secret, rotated to a generated one.
    assert.equal((await admin("POST", "/v1/subscriptions", { id: "given", url: ok.url, filter: "events.order.>", secret: GIVEN_SECRET })).status, 201);
    const rotated = await admin("POST", "/v1/subscriptions/given/secrets/rotate", { secret: ROTATED_SECRET, overlap: "1h" });
    assert.equal(rotated.status, 200);
    const created = await admin("POST", "/v1/subscriptions", { id: "generated", url: failing.url, filter: "events.order.>", retry: { schedule: ["20ms"] } });
    secrets.add(((await created.json()) as { secret: string }).secret);
    const rotatedGenerated = await admin("POST", "/v1/subscriptions/generated/secrets/rotate", { overlap: "1h" });
    secrets.add(((await rotatedGenerated.json()) as { secret: string }).secret);
    // Admin calls with bad tokens, and a test-send each way.
    for (const token of ["wrong", `${ADMIN_TOKEN}x`, ADMIN_TOKEN.slice(0, -1)]) assert.equal((await admin("GET", "/v1/subscriptions", undefined, token)).status, 401);
    assert.equal((await admin("POST", "/v1/subscriptions/given/test", { data: { hello: "world" } })).status, 200);
    const failedSend = await admin("POST", "/v1/subscriptions/generated/test", {});
    assert.equal(failedSend.status, 200);
    assert.equal(((await failedSend.json()) as { result: { ok: boolean } }).result.ok, false, "the test-send to the failing receiver failed");
    await waitUntil("both subscriptions running", 15_000, async () => ["given", "generated"].every((id) => bridge.manager.running().includes(id)));

    // ---- the edge on each runtime, request logs on, logged in to NATS with a password ----
    const apiKeys = [
      { name: "main", sha256: await hashApiKey(API_KEY), types: ["**"] },
      { name: "other", sha256: await hashApiKey(OTHER_KEY), types: ["payment.*"] },
    ];
    let accepted = 0;
    for (const runtime of EDGE_RUNTIMES) {
      for (const pass of [EDGE_PASS, WRONG_PASS]) {
        const edge = await startTestEdge({
          runtime,
          broker,
          registryDir: writeTestRegistry(),
          apiKeys,
          vars: { LOG_REQUESTS: "true", NATS_USER: "edge", NATS_PASS: pass, PUBLISH_TIMEOUT_MS: "2000" },
          onOutput: (line) => logs.edge.push(`[${runtime}] ${line}`),
        });
        // Stopped right below; this only covers a failure before that line.
        let stopped = false;
        t.after(() => (stopped ? undefined : edge.stop()));
        const post = (authorization: string, path = "/v1/events/order.created") =>
          fetch(edge.url + path, { method: "POST", headers: { authorization, "content-type": "application/json" }, body: JSON.stringify(VALID_ORDER_V2) });
        const good = await post(`Bearer ${API_KEY}`);
        if (pass === EDGE_PASS) {
          assert.equal(good.status, 202, `${runtime}: ${await good.clone().text()}`);
          accepted++;
        } else {
          assert.equal(good.status, 503, `${runtime} with a wrong NATS password`);
        }
        await fetch(`${edge.url}/healthz`);
        assert.equal((await post(`Bearer ${API_KEY.slice(0, -1)}x`)).status, 401);
        assert.equal((await post(`Bearer ${OTHER_KEY}`)).status, 403, "a key not allowed this type");
        assert.equal((await post(`Basic ${Buffer.from(`user:${API_KEY}`).toString("base64")}`)).status, 401);
        // A client that puts its key where it does not belong: the query string and the path.
        assert.equal((await post("", `/v1/events/order.created?api_key=${API_KEY}`)).status, 401);
        assert.ok((await post(`Bearer ${API_KEY}`, `/v1/events/${API_KEY}`)).status >= 400);
        stopped = true;
        await edge.stop();
      }
    }

    // The accepted events reach both subscriptions: one delivers, the other fails into the DLQ.
    await ok.waitFor(accepted + 1);
    await waitUntil("the failing subscription's events dead-lettered", 15_000, async () => (await listDeadLetters(nc, { subscription: "generated" })).length === accepted);
    await bridge.stop();
  });

  // ---- the search ----
  const captured = { ...logs };
  const hits: string[] = [];
  for (const secret of secrets) {
    const needles = [secret];
    if (secret.startsWith("whsec_")) needles.push(secret.slice("whsec_".length));
    for (const needle of needles) {
      for (const [where, lines] of Object.entries(captured)) {
        const line = lines.find((l) => l.includes(needle));
        if (line) hits.push(`${where}: ${JSON.stringify(line.slice(0, 300))} contains a secret (${needle.slice(0, 6)}…)`);
      }
    }
  }
  const total = Object.values(captured).reduce((n, lines) => n + lines.length, 0);
  console.log(`secrets search: ${secrets.size} secrets in ${total} captured lines (edge ${logs.edge.length}, bridge ${logs.bridge.length}, process ${logs.process.length}, errors ${logs.errors.length}): ${hits.length} hits`);
  assert.ok(logs.edge.some((l) => l.includes('"msg":"request"') && l.includes("[workerd]")), "workerd request logs were captured");
  assert.ok(logs.edge.some((l) => l.includes('"msg":"request"') && l.includes("[node]")), "Node request logs were captured");
  assert.ok(logs.bridge.some((l) => l.includes("dead-lettered")), "bridge logs of the failure path were captured");
  assert.deepEqual(hits, []);
});
