// GET /v1/ws on workerd and on Node, before and at the upgrade (docs/browsers.md, "Connecting"):
// every refusal is problem+json with its status and `type` before anything is upgraded; a good
// token is accepted from the Sec-WebSocket-Protocol header or ?token=, the answer names jetgate.v1
// and never the token, and the Origin is held to the token and to CORS_ORIGINS. Tokens are signed
// here with node:crypto (socket-client.ts), apart from the code under test, and once minted by
// POST /v1/tokens for the whole path a backend and its page take.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { EDGE_RUNTIMES, startTestEdge, type EdgeRuntime, type TestEdge } from "../harness/worker.ts";
import { writeTestRegistry } from "./fixtures.ts";
import { ALLOWED_ORIGIN, bearer, KEYS, send, SUITE_VARS, testApiKeys } from "./helpers.ts";
import { assertRefusal, connectSocket, forge, refusedUpgrade, signToken, SOCKET_SECRET, PROBLEMS, receivedFrames } from "./socket-client.ts";
import { assertServerFramesMatchOpenApi } from "./openapi-check.ts";
import { startSuite, type Suite } from "./suite.ts";

let suite: Suite;
/** One edge per runtime without TOKEN_SECRET, for 503 tokens-not-configured. */
const unconfigured = new Map<EdgeRuntime, TestEdge>();
before(async () => {
  suite = await startSuite({ vars: { TOKEN_SECRET: SOCKET_SECRET } });
  const registryDir = writeTestRegistry();
  for (const runtime of EDGE_RUNTIMES) {
    unconfigured.set(runtime, await startTestEdge({ runtime, broker: suite.broker, registryDir, apiKeys: await testApiKeys(), vars: SUITE_VARS }));
  }
});
after(async () => {
  await Promise.allSettled([...unconfigured.values()].map((e) => e.stop()));
  await suite?.stop();
});

for (const runtime of EDGE_RUNTIMES) {
  describe(`GET /v1/ws refusals and acceptance on ${runtime}`, () => {
    const url = () => suite.edges.get(runtime)!.url;

    test("a plain GET without Upgrade is 426 upgrade-required", async () => {
      const res = await fetch(`${url()}/v1/ws`, { signal: AbortSignal.timeout(30_000) });
      assert.equal(res.status, 426);
      assert.equal(res.headers.get("content-type"), "application/problem+json");
      const body = await res.json();
      assert.equal(body.type, PROBLEMS + "upgrade-required");
      assert.equal(body.status, 426);
    });

    // RFC 9110 §15.5.22: a 426 MUST name the protocol to switch to in Upgrade. The app sets it
    // (routes-sockets.ts); workerd drops Upgrade from a Worker's non-101 answer (a connection
    // header to it), so there it is a known gap, reported as todo rather than failing the suite.
    const upgradeTodo = runtime === "workerd" ? { todo: "workerd drops the Upgrade header the app sets on its 426" } : {};
    test("the 426 names websocket in its Upgrade header", upgradeTodo, async () => {
      const res = await fetch(`${url()}/v1/ws`, { signal: AbortSignal.timeout(30_000) });
      await res.arrayBuffer();
      assert.equal(res.headers.get("upgrade")?.toLowerCase(), "websocket");
    });

    test("an upgrade without a token is 401 token-invalid", async () => {
      assertRefusal(await refusedUpgrade(url()), 401, "token-invalid");
      assertRefusal(await refusedUpgrade(url(), { query: "?token=" }), 401, "token-invalid");
    });

    test("a token with one character of its signature or claims changed is 401 token-invalid", async () => {
      const token = signToken();
      assertRefusal(await refusedUpgrade(url(), { token: forge(token) }), 401, "token-invalid");
      const [version, payload, signature] = token.split(".") as [string, string, string];
      const at = Math.floor(payload.length / 2);
      const changed = payload.slice(0, at) + (payload[at] === "A" ? "B" : "A") + payload.slice(at + 1);
      assertRefusal(await refusedUpgrade(url(), { token: `${version}.${changed}.${signature}` }), 401, "token-invalid");
      assertRefusal(await refusedUpgrade(url(), { token: signToken({}, "another-secret-that-is-32-bytes-or-more") }), 401, "token-invalid");
    });

    test("a malformed token is 401 token-invalid", async () => {
      for (const token of ["not-a-token", "v1.abc", "v2.e30.e30", `${signToken()}.x`]) {
        assertRefusal(await refusedUpgrade(url(), { token }), 401, "token-invalid");
      }
    });

    test("a token signed with the right secret whose exp has passed is 401 token-expired", async () => {
      const now = Math.floor(Date.now() / 1000);
      const refusal = await refusedUpgrade(url(), { token: signToken({ iat: now - 120, exp: now - 60 }) });
      assertRefusal(refusal, 401, "token-expired");
    });

    test("a token minted by POST /v1/tokens with ttl 2 is accepted at once and 401 token-expired after it", async () => {
      const minted = await send(suite.ledger, url(), { path: "/v1/tokens", method: "POST", headers: { ...bearer(KEYS.full), "content-type": "application/json" }, body: JSON.stringify({ ttl: 2 }) });
      assert.equal(minted.status, 201, JSON.stringify(minted.body));
      const socket = await connectSocket(url(), { token: minted.body.token });
      assert.equal(socket.ready.sub, "full");
      assert.equal(socket.ready.expiresAt, minted.body.expiresAt);
      await socket.close();
      // Past the exp second (whole seconds), with a margin for a busy clock.
      await sleep(Math.max(0, Date.parse(minted.body.expiresAt) - Date.now()) + 1_200);
      assertRefusal(await refusedUpgrade(url(), { token: minted.body.token }), 401, "token-expired");
    });

    test("a token bound to another origin is 403 token-origin-mismatch, also from a request without Origin", async () => {
      const token = signToken({ origin: "https://other.example.com" });
      assertRefusal(await refusedUpgrade(url(), { token, origin: ALLOWED_ORIGIN }), 403, "token-origin-mismatch");
      assertRefusal(await refusedUpgrade(url(), { token }), 403, "token-origin-mismatch");
      const bound = await connectSocket(url(), { token: signToken({ origin: ALLOWED_ORIGIN }), origin: ALLOWED_ORIGIN });
      await bound.close();
    });

    test("an Origin outside CORS_ORIGINS and not the edge's own is 403 origin-not-allowed, whatever the token", async () => {
      const refusal = await refusedUpgrade(url(), { token: signToken(), origin: "https://evil.example.com" });
      assertRefusal(refusal, 403, "origin-not-allowed");
      assertRefusal(await refusedUpgrade(url(), { token: signToken({ origin: "https://evil.example.com" }), origin: "https://evil.example.com" }), 403, "origin-not-allowed");
    });

    test("the allowed origin, the edge's own origin and a request without Origin are accepted with an unbound token", async () => {
      for (const origin of [ALLOWED_ORIGIN, new URL(url()).origin, undefined]) {
        const socket = await connectSocket(url(), { token: signToken(), ...(origin ? { origin } : {}) });
        assert.equal(socket.ready.op, "ready", String(origin));
        await socket.close();
      }
    });

    test("the answer's Sec-WebSocket-Protocol is jetgate.v1 and never echoes the token; ready names the key, expiry and limits", async () => {
      const token = signToken({ sub: "shop-frontend", ttl: 300 });
      const socket = await connectSocket(url(), { token });
      assert.equal(socket.upgradeHeaders["sec-websocket-protocol"], "jetgate.v1");
      assert.equal(socket.ws.protocol, "jetgate.v1");
      assert.ok(!JSON.stringify(socket.upgradeHeaders).includes(token.split(".")[2]!), "no answer header carries the token");
      const claims = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString());
      assert.deepEqual(socket.ready, {
        op: "ready",
        protocol: "jetgate.v1",
        sub: "shop-frontend",
        expiresAt: new Date(claims.exp * 1000).toISOString(),
        maxFrameBytes: Number(SUITE_VARS.MAX_EVENT_BYTES),
        maxInFlight: 256,
      });
      await socket.close();
    });

    test("a token in ?token= is accepted, with or without jetgate.v1 offered", async () => {
      const token = signToken();
      const offered = await connectSocket(url(), { query: `?token=${token}` });
      assert.equal(offered.ws.protocol, "jetgate.v1");
      await offered.close();
      const bare = await connectSocket(url(), { query: `?token=${token}`, protocols: [] });
      assert.equal(bare.ws.protocol, "", "nothing offered, nothing chosen");
      assert.equal(bare.ready.protocol, "jetgate.v1");
      await bare.close();
    });

    test("a subprotocol the edge does not speak is refused before the upgrade", async () => {
      const refusal = await refusedUpgrade(url(), { token: signToken(), protocols: ["mqtt"] });
      assert.equal(refusal.status, 400, JSON.stringify(refusal.body));
      assert.equal(refusal.headers["content-type"], "application/problem+json");
    });

    // docs/browsers.md: 1001 when the edge goes away. Miniflare's dispose ends workerd without
    // the hub closing its sockets, which the client sees as 1006 (no close frame).
    const goingAwayTodo = runtime === "workerd" ? { todo: "workerd's shutdown drops the socket (1006) instead of closing it with 1001" } : {};
    test("stopping the edge closes its open sockets with 1001 going away", goingAwayTodo, async () => {
      const edge = await startTestEdge({ runtime, broker: suite.broker, registryDir: writeTestRegistry(), apiKeys: await testApiKeys(), vars: { ...SUITE_VARS, TOKEN_SECRET: SOCKET_SECRET } });
      let stopped = false;
      try {
        const socket = await connectSocket(edge.url, { token: signToken() });
        assert.equal((await socket.request({ op: "subscribe", rid: "s", types: "order.*" })).op, "subscribed");
        await edge.stop();
        stopped = true;
        const closed = await socket.closed("the close when the edge stops");
        assert.equal(closed.code, 1001, JSON.stringify(closed));
        assert.match(closed.reason, /reconnect/);
      } finally {
        if (!stopped) await edge.stop();
      }
    });

    test("an edge with no TOKEN_SECRET is 503 tokens-not-configured naming the var", async () => {
      const refusal = await refusedUpgrade(unconfigured.get(runtime)!.url, { token: signToken() });
      assertRefusal(refusal, 503, "tokens-not-configured");
      assert.match(refusal.body.detail, /TOKEN_SECRET/);
    });
  });
}


test("every frame the edge sent in this suite is a WsServerFrame of the OpenAPI document", () => {
  assert.ok(assertServerFramesMatchOpenApi(receivedFrames) > 0, "the suite received frames");
});
