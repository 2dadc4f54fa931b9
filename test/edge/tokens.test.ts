// POST /v1/tokens on workerd and on Node: what a backend gets when it mints a browser token for
// its page, and every refusal as problem+json. The tokens are checked here without the code under
// test (node:crypto's HMAC over the same signing input), and every answer against the OpenAPI
// document.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { hashApiKey, type ApiKeyEntry } from "../../worker/auth/keys.ts";
import { startTestBroker, type TestBroker } from "../harness/nats.ts";
import { EDGE_RUNTIMES, startTestEdge, type TestEdge } from "../harness/worker.ts";
import { VALID_ORDER_V2, writeTestRegistry } from "./fixtures.ts";
import { bearer, Ledger, send, type Answer } from "./helpers.ts";
import { assertResponsesMatchOpenApi } from "./openapi-check.ts";

const SECRET = "tokens-suite-secret-at-least-32-bytes-long";

const KEYS = {
  app: "jg_test_tokens_app_key",
  publisher: "jg_test_tokens_publish_only",
  slow: "jg_test_tokens_rate_limited",
} as const;

async function apiKeys(): Promise<ApiKeyEntry[]> {
  return [
    { name: "app", sha256: await hashApiKey(KEYS.app), types: ["order.*", "payment.**"], subscribe: ["order.*"] },
    { name: "publisher", sha256: await hashApiKey(KEYS.publisher), types: ["order.*"] },
    // One request, then none for ~1000 s: the second request is refused whatever the machine's speed.
    { name: "slow", sha256: await hashApiKey(KEYS.slow), types: ["**"], rateLimit: { perSecond: 0.001, burst: 1 } },
  ];
}

interface Claims {
  sub: string;
  publish: string[];
  subscribe: string[];
  origin?: string;
  iat: number;
  exp: number;
  jti: string;
}

/** The token's claims, after checking its HMAC with node:crypto (independent of worker/auth/browser-tokens.ts). */
function claimsOf(token: string): Claims {
  const [version, payload, signature] = token.split(".");
  assert.equal(version, "v1");
  const expected = createHmac("sha256", SECRET).update(`${version}.${payload}`).digest("base64url");
  assert.equal(signature, expected, "the token's signature is HMAC-SHA256 of v1.<claims> with TOKEN_SECRET");
  return JSON.parse(Buffer.from(payload!, "base64url").toString("utf8")) as Claims;
}

function assertProblem(res: Answer, status: number, kind: string): void {
  assert.equal(res.status, status, `expected ${status} ${kind}, got ${res.status} ${JSON.stringify(res.body)}`);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  assert.equal(res.body.type, `https://jetgate.dev/problems/${kind}`);
  assert.equal(res.body.status, status);
}

const ledger = new Ledger();
let broker: TestBroker;
const edges: TestEdge[] = [];
before(async () => {
  broker = await startTestBroker({ nodes: 1 });
});
after(async () => {
  await Promise.allSettled(edges.map((e) => e.stop()));
  await broker?.stop();
});

for (const runtime of EDGE_RUNTIMES) {
  describe(`POST /v1/tokens on ${runtime}`, () => {
    let edge: TestEdge;
    let unconfigured: TestEdge;
    before(async () => {
      const registryDir = writeTestRegistry();
      edge = await startTestEdge({ runtime, broker, registryDir, apiKeys: await apiKeys(), vars: { TOKEN_SECRET: SECRET } });
      edges.push(edge);
      unconfigured = await startTestEdge({ runtime, broker, registryDir, apiKeys: await apiKeys() });
      edges.push(unconfigured);
    });
    const mint = (body: unknown, key: string | null = KEYS.app, target = () => edge, headers: Record<string, string> = { "content-type": "application/json" }) =>
      send(ledger, target().url, {
        path: "/v1/tokens",
        method: "POST",
        headers: { ...(key ? bearer(key) : {}), ...headers },
        ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
      });

    test("with no body: a 10-minute token for the key's name, its publish types and its subscribe scope, not to be cached", async () => {
      const before = Math.floor(Date.now() / 1000);
      const res = await mint(undefined, KEYS.app, () => edge, {});
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.headers.get("cache-control"), "no-store");
      const claims = claimsOf(res.body.token);
      assert.deepEqual({ sub: claims.sub, publish: claims.publish, subscribe: claims.subscribe, origin: claims.origin }, { sub: "app", publish: ["order.*", "payment.**"], subscribe: ["order.*"], origin: undefined });
      assert.equal(claims.exp - claims.iat, 600);
      assert.ok(claims.iat >= before - 1 && claims.iat <= Math.ceil(Date.now() / 1000) + 1, `iat ${claims.iat} is the time of minting`);
      assert.equal(res.body.expiresAt, new Date(claims.exp * 1000).toISOString());
      assert.equal(res.body.protocol, `jetgate.token.${res.body.token}`);
      assert.match(res.body.protocol, /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, "a valid Sec-WebSocket-Protocol token");
      // An empty JSON object asks for the same.
      const empty = await mint({});
      assert.equal(empty.status, 201);
      assert.deepEqual(claimsOf(empty.body.token).subscribe, ["order.*"]);
      assert.notEqual(claimsOf(empty.body.token).jti, claims.jti);
    });

    test("with every option: the ttl, the origin and narrower publish and subscribe globs are what the token carries", async () => {
      const res = await mint({ ttl: 3600, origin: "https://app.example:8443", publish: ["order.created", "payment.card.*"], subscribe: ["order.created"] });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const claims = claimsOf(res.body.token);
      assert.equal(claims.exp - claims.iat, 3600);
      assert.equal(claims.origin, "https://app.example:8443");
      assert.deepEqual(claims.publish, ["order.created", "payment.card.*"]);
      assert.deepEqual(claims.subscribe, ["order.created"]);
      const publishNothing = await mint({ ttl: 1, publish: [] });
      assert.equal(publishNothing.status, 201);
      assert.deepEqual(claimsOf(publishNothing.body.token).publish, []);
    });

    test("a ttl over an hour, a bad ttl, origin, glob or field is 400 invalid-token-request naming the field", async () => {
      const cases: Array<[unknown, string]> = [
        [{ ttl: 3601 }, "ttl"],
        [{ ttl: 0 }, "ttl"],
        [{ ttl: 1.5 }, "ttl"],
        [{ ttl: "600" }, "ttl"],
        [{ origin: "https://app.example/" }, "origin"],
        [{ origin: "https://app.example/path" }, "origin"],
        [{ origin: "app.example" }, "origin"],
        [{ origin: "HTTPS://APP.EXAMPLE" }, "origin"],
        [{ origin: "https://app.example:443" }, "origin"],
        [{ origin: "ftp://app.example" }, "origin"],
        [{ origin: "null" }, "origin"],
        [{ origin: 1 }, "origin"],
        [{ publish: "order.*" }, "publish"],
        [{ publish: ["Order.*"] }, "publish"],
        [{ subscribe: ["order.>"] }, "subscribe"],
        [{ scope: "all" }, "scope"],
        [[], ""],
        ["7", ""],
      ];
      for (const [body, field] of cases) {
        const res = await mint(body);
        assertProblem(res, 400, "invalid-token-request");
        assert.equal(res.body.field, field, JSON.stringify(body));
      }
      assertProblem(await mint("{"), 400, "malformed-json");
      assertProblem(await mint("ttl=60", KEYS.app, () => edge, { "content-type": "application/x-www-form-urlencoded" }), 415, "unsupported-media-type");
    });

    test("asking for more than the key may publish or subscribe to is 403 forbidden-scope", async () => {
      const cases: Array<[unknown, string, string[]]> = [
        [{ publish: ["**"] }, "publish", ["**"]],
        [{ publish: ["order.created", "order.**"] }, "publish", ["order.**"]],
        [{ publish: ["invoice.sent"] }, "publish", ["invoice.sent"]],
        [{ subscribe: ["order.**"] }, "subscribe", ["order.**"]],
        [{ subscribe: ["payment.settled"] }, "subscribe", ["payment.settled"]],
      ];
      for (const [body, field, outside] of cases) {
        const res = await mint(body);
        assertProblem(res, 403, "forbidden-scope");
        assert.equal(res.body.field, field, JSON.stringify(body));
        assert.deepEqual(res.body.outside, outside, JSON.stringify(body));
      }
    });

    test("a key without a subscribe scope mints tokens that may subscribe to nothing, and asking to is 403", async () => {
      const res = await mint(undefined, KEYS.publisher, () => edge, {});
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.deepEqual(claimsOf(res.body.token).subscribe, []);
      assert.deepEqual(claimsOf(res.body.token).publish, ["order.*"]);
      assert.equal((await mint({ subscribe: [] }, KEYS.publisher)).status, 201);
      const refused = await mint({ subscribe: ["order.created"] }, KEYS.publisher);
      assertProblem(refused, 403, "forbidden-scope");
      assert.equal(refused.body.field, "subscribe");
    });

    test("without a valid API key: 401 unauthorized", async () => {
      const none = await mint({}, null);
      assertProblem(none, 401, "unauthorized");
      assert.match(none.headers.get("www-authenticate") ?? "", /^Bearer/);
      assertProblem(await mint({}, "jg_not_a_known_key_at_all"), 401, "unauthorized");
    });

    test("the same rate limit as publishing: a key's token requests and events share its bucket", async () => {
      assert.equal((await mint({}, KEYS.slow)).status, 201);
      const refused = await mint({}, KEYS.slow);
      assertProblem(refused, 429, "rate-limited");
      assert.ok(Number(refused.headers.get("retry-after")) >= 1);
      const event = await send(ledger, edge.url, {
        path: "/v1/events/order.created",
        method: "POST",
        headers: { ...bearer(KEYS.slow), "content-type": "application/json" },
        body: JSON.stringify(VALID_ORDER_V2),
      });
      assertProblem(event, 429, "rate-limited");
    });

    test("an edge whose operator set no TOKEN_SECRET answers 503 tokens-not-configured naming the var", async () => {
      const res = await mint({}, KEYS.app, () => unconfigured);
      assertProblem(res, 503, "tokens-not-configured");
      assert.match(res.body.detail, /TOKEN_SECRET/);
      // Still 401 first without a key: an unauthenticated caller learns nothing of the configuration.
      assertProblem(await mint({}, null, () => unconfigured), 401, "unauthorized");
    });
  });
}

test("every answer of POST /v1/tokens matches the OpenAPI document", () => {
  assert.ok(ledger.responses.length > 2 * 30, `only ${ledger.responses.length} answers were recorded`);
  assert.equal(assertResponsesMatchOpenApi(ledger.responses), ledger.responses.length, "every answer has a documented JSON schema");
});
