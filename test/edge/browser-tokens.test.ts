// Browser tokens as a module (worker/auth/browser-tokens.ts), the key scopes they are cut from
// (worker/auth/keys.ts), and the type-glob grammar (broker/event-type.ts): no servers, the clock
// injected. The route that mints them is tested on both runtimes in tokens.test.ts.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { authenticateBrowserToken, mintToken, tokenFromProtocols, verifyToken, type TokenGrant } from "../../worker/auth/browser-tokens.ts";
import { globWithin, globsOutside, parseApiKeys, typeMatches } from "../../worker/auth/keys.ts";
import { EdgeError } from "../../worker/http/problems.ts";
import { isEventTypeGlob } from "../../broker/index.ts";

const SECRET = "test-secret-for-browser-tokens-32-bytes+";
const OTHER_SECRET = "another-secret-for-browser-tokens-32-bytes";
const NOW = Date.UTC(2026, 10, 29, 12, 0, 0);
const GRANT: TokenGrant = { sub: "app", publish: ["order.*"], subscribe: ["order.**"], origin: "https://app.example", ttlSeconds: 600 };

/** RFC 7230 token characters: what a Sec-WebSocket-Protocol value may hold. */
const TCHARS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const isCode = (code: string) => (err: unknown) => err instanceof EdgeError && err.code === code;

describe("minting and verifying a browser token", () => {
  test("a minted token verifies to the claims it was minted with, and is a valid Sec-WebSocket-Protocol token", async () => {
    const { token, claims } = await mintToken(GRANT, SECRET, NOW);
    assert.match(token, /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    assert.match(`jetgate.token.${token}`, TCHARS);
    assert.deepEqual(claims, { ...claims, sub: "app", publish: ["order.*"], subscribe: ["order.**"], origin: "https://app.example", iat: NOW / 1000, exp: NOW / 1000 + 600 });
    assert.match(claims.jti, /^[A-Za-z0-9_-]{22}$/);
    assert.deepEqual(await verifyToken(token, SECRET, NOW), { ok: true, claims });
  });

  test("two tokens for the same grant in the same second differ (their jti)", async () => {
    const a = await mintToken(GRANT, SECRET, NOW);
    const b = await mintToken(GRANT, SECRET, NOW);
    assert.notEqual(a.token, b.token);
    assert.notEqual(a.claims.jti, b.claims.jti);
  });

  test("a token is good until its exp second and expired from then on", async () => {
    const { token } = await mintToken({ ...GRANT, ttlSeconds: 60 }, SECRET, NOW);
    assert.equal((await verifyToken(token, SECRET, NOW + 59_999)).ok, true);
    const expired = await verifyToken(token, SECRET, NOW + 60_000);
    assert.equal(expired.ok, false);
    assert.equal(!expired.ok && expired.failure, "expired");
    await assert.rejects(authenticateBrowserToken(token, GRANT.origin, SECRET, NOW + 3_600_000), isCode("TOKEN_EXPIRED"));
  });

  test("changed claims, a changed signature, another secret, truncation and another version are refused", async () => {
    const { token, claims } = await mintToken(GRANT, SECRET, NOW);
    const [version, payload, signature] = token.split(".") as [string, string, string];
    const forgeries: Array<[string, string, "forged" | "malformed"]> = [
      ["wider publish claims", `${version}.${b64({ ...claims, publish: ["**"] })}.${signature}`, "forged"],
      ["a later exp", `${version}.${b64({ ...claims, exp: claims.exp + 3600 })}.${signature}`, "forged"],
      ["another signature", `${version}.${payload}.${Buffer.alloc(32, 7).toString("base64url")}`, "forged"],
      ["a signature from another secret", (await mintToken(GRANT, OTHER_SECRET, NOW)).token, "forged"],
      // Two characters, not one: 43 base64url characters less one is still canonical 1 time in 16
      // (its unused low bits happen to be zero), and then it is a 31-byte signature, forged (below).
      ["a truncated signature", token.slice(0, -2), "malformed"],
      ["a signature cut to 31 bytes", `${version}.${payload}.${Buffer.from(signature, "base64url").subarray(0, 31).toString("base64url")}`, "forged"],
      ["no signature", `${version}.${payload}`, "malformed"],
      ["an empty signature", `${version}.${payload}.`, "malformed"],
      ["version v2", `v2.${payload}.${signature}`, "malformed"],
      ["no version", `${payload}.${signature}`, "malformed"],
      ["a fourth part", `${token}.x`, "malformed"],
      ["padding", `${token}=`, "malformed"],
      ["standard base64", `${version}.${payload}.${Buffer.from(signature, "base64url").toString("base64")}`, "malformed"],
      ["nothing", "", "malformed"],
      ["far too long", "v1." + "a".repeat(20_000) + ".b", "malformed"],
    ];
    for (const [what, forged, failure] of forgeries) {
      const check = await verifyToken(forged, SECRET, NOW);
      assert.equal(check.ok, false, what);
      assert.equal(!check.ok && check.failure, failure, what);
      await assert.rejects(authenticateBrowserToken(forged, GRANT.origin, SECRET, NOW), isCode("TOKEN_INVALID"), what);
    }
  });

  test("claims signed with the secret but not shaped like a token's are malformed, not a crash", async () => {
    const { createHmac } = await import("node:crypto");
    for (const claims of [[], "x", { sub: "app" }, { sub: 1, publish: [], subscribe: [], iat: 1, exp: 2, jti: "j" }]) {
      const input = `v1.${b64(claims)}`;
      const token = `${input}.${createHmac("sha256", SECRET).update(input).digest("base64url")}`;
      const check = await verifyToken(token, SECRET, NOW);
      assert.equal(!check.ok && check.failure, "malformed", JSON.stringify(claims));
    }
  });
});

describe("the Origin rule and the token's transport", () => {
  test("a token with an origin is good only from that exact Origin; one without an origin from any", async () => {
    const bound = (await mintToken(GRANT, SECRET, NOW)).token;
    assert.equal((await authenticateBrowserToken(bound, "https://app.example", SECRET, NOW)).sub, "app");
    for (const origin of ["https://evil.example", "http://app.example", "https://app.example:8443", "https://APP.example", undefined]) {
      await assert.rejects(authenticateBrowserToken(bound, origin, SECRET, NOW), isCode("TOKEN_ORIGIN_MISMATCH"), String(origin));
    }
    const { origin: _, ...unbound } = GRANT;
    const free = (await mintToken(unbound, SECRET, NOW)).token;
    for (const origin of ["https://evil.example", undefined]) assert.equal((await authenticateBrowserToken(free, origin, SECRET, NOW)).origin, undefined);
  });

  test("without a secret no token is accepted (tokens-not-configured)", async () => {
    const { token } = await mintToken(GRANT, SECRET, NOW);
    await assert.rejects(authenticateBrowserToken(token, GRANT.origin, undefined, NOW), isCode("TOKENS_NOT_CONFIGURED"));
  });

  test("the token is found among the offered subprotocols", () => {
    assert.equal(tokenFromProtocols("jetgate.v1, jetgate.token.v1.abc.def"), "v1.abc.def");
    assert.equal(tokenFromProtocols("jetgate.token.v1.abc.def,jetgate.v1"), "v1.abc.def");
    assert.equal(tokenFromProtocols("jetgate.v1"), undefined);
    assert.equal(tokenFromProtocols(null), undefined);
  });
});

describe("properties", () => {
  const glob = fc.constantFrom("order.*", "order.**", "**", "payment.settled", "a-b.c_d");
  const grant = fc.record(
    {
      sub: fc.string({ minLength: 1, maxLength: 40 }),
      publish: fc.array(glob, { maxLength: 4 }),
      subscribe: fc.array(glob, { maxLength: 4 }),
      origin: fc.webUrl().map((u) => new URL(u).origin),
      ttlSeconds: fc.integer({ min: 1, max: 3600 }),
    },
    { requiredKeys: ["sub", "publish", "subscribe", "ttlSeconds"] },
  );
  const now = fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2040, 0, 1) });

  test("verify(mint(grant)) gives back the grant's claims, at any time before exp", async () => {
    await fc.assert(
      fc.asyncProperty(grant, now, fc.double({ min: 0, max: 0.999, noNaN: true }), async (g, t, within) => {
        const { token, claims } = await mintToken(g, SECRET, t);
        const { ttlSeconds, ...granted } = g;
        assert.deepEqual({ sub: claims.sub, publish: claims.publish, subscribe: claims.subscribe, ...(claims.origin === undefined ? {} : { origin: claims.origin }) }, granted);
        assert.equal(claims.exp - claims.iat, ttlSeconds);
        const at = claims.iat * 1000 + Math.floor(within * ttlSeconds * 1000);
        assert.deepEqual(await verifyToken(token, SECRET, at), { ok: true, claims });
      }),
      { numRuns: 200 },
    );
  });

  test("a token changed in any single byte is refused", async () => {
    const replacement = fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ");
    await fc.assert(
      fc.asyncProperty(grant, now, fc.nat(), replacement, async (g, t, at, char) => {
        const { token } = await mintToken(g, SECRET, t);
        const i = at % token.length;
        fc.pre(token[i] !== char);
        const changed = token.slice(0, i) + char + token.slice(i + 1);
        const check = await verifyToken(changed, SECRET, t);
        assert.equal(check.ok, false, `byte ${i} of ${token} changed to ${char} was accepted`);
      }),
      { numRuns: 500 },
    );
  });
});

describe("type globs and the subscribe scope", () => {
  test("the glob grammar takes the type grammar's segments, * within one and ** as a whole segment", () => {
    for (const g of ["**", "*", "order.*", "order.**", "order-*.created", "*.created", "order.created", "a.*.c"]) assert.equal(isEventTypeGlob(g), true, g);
    for (const g of ["", "Order.*", "order..x", "a**b", "order.", ".order", "order.>", "order created", "x".repeat(129)]) assert.equal(isEventTypeGlob(g), false, g);
  });

  test("a glob lies within another when every type it matches, the other matches", () => {
    const within: Array<[string, string]> = [["order.created", "order.*"], ["order.*", "order.*"], ["order.*", "order.**"], ["order.**", "**"], ["order.*.x", "order.**"], ["order-*", "order*"], ["*", "**"]];
    const outside: Array<[string, string]> = [["order.**", "order.*"], ["**", "order.**"], ["order.*", "order.created"], ["*", "order.*"], ["payment.*", "order.*"], ["order*", "order-*"], ["a.b", "a.*.b"]];
    for (const [inner, outer] of within) assert.equal(globWithin(inner, outer), true, `${inner} within ${outer}`);
    for (const [inner, outer] of outside) assert.equal(globWithin(inner, outer), false, `${inner} not within ${outer}`);
    assert.deepEqual(globsOutside(["order.created", "payment.x", "order.**"], ["order.*", "payment.**"]), ["order.**"]);
  });

  test("globWithin never lets a wider glob through: whatever the inner glob matches, the outer does", () => {
    const segment = fc.constantFrom("a", "b", "ab", "*", "**", "a*");
    const globArb = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join("."));
    const typeArb = fc.array(fc.constantFrom("a", "b", "ab", "ba"), { minLength: 1, maxLength: 5 }).map((s) => s.join("."));
    fc.assert(
      fc.property(globArb, globArb, fc.array(typeArb, { minLength: 20, maxLength: 20 }), (inner, outer, types) => {
        if (!globWithin(inner, outer)) return;
        for (const t of types) if (typeMatches(inner, t)) assert.ok(typeMatches(outer, t), `${inner} within ${outer}, but ${t} matches only the first`);
      }),
      { numRuns: 2000 },
    );
  });

  test("API_KEYS entries take an optional subscribe scope, checked like types", () => {
    const sha256 = "0".repeat(64);
    const [withScope, without] = parseApiKeys(JSON.stringify([{ name: "a", sha256, types: ["order.*"], subscribe: ["order.**"] }, { name: "b", sha256, types: ["**"] }]));
    assert.deepEqual(withScope!.subscribe, ["order.**"]);
    assert.equal(without!.subscribe, undefined);
    for (const subscribe of ["order.*", ["Order.*"], [""], [1], ["order.>"]]) {
      assert.throws(() => parseApiKeys(JSON.stringify([{ name: "a", sha256, types: ["**"], subscribe }])), /subscribe/, JSON.stringify(subscribe));
    }
    assert.throws(() => parseApiKeys(JSON.stringify([{ name: "a", sha256, types: ["Order.*"] }])), /types/);
  });
});
