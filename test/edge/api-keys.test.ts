// API keys are compared in constant time (worker/auth/keys.ts constantTimeEqual, worker/auth/authenticate.ts
// KeyStore). Timing itself is never asserted here (it would be flaky and prove little); what is
// tested is the behaviour: the right key is accepted and every near miss is refused with a 401
// problem+json, on both runtimes, and the equality helper is right for every kind of difference.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { constantTimeEqual, constantTimeEqualText, hashApiKey, digestBytes } from "../../worker/auth/keys.ts";
import { KeyStore } from "../../worker/auth/authenticate.ts";
import { EdgeError } from "../../worker/http/problems.ts";
import { startTestBroker, type TestBroker } from "../harness/nats.ts";
import { EDGE_RUNTIMES, startTestEdge, type TestEdge } from "../harness/worker.ts";
import { VALID_ORDER_V2, writeTestRegistry } from "./fixtures.ts";
import { KEYS, testApiKeys } from "./helpers.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

/** The right key, then near misses an attacker would try one after another. */
const RIGHT = KEYS.full;
const NEAR_MISSES: Array<[string, string]> = [
  ["the last byte differs", RIGHT.slice(0, -1) + (RIGHT.endsWith("s") ? "t" : "s")],
  ["the first byte differs", "k" + RIGHT.slice(1)],
  ["one byte shorter", RIGHT.slice(0, -1)],
  ["one byte longer", RIGHT + "x"],
  ["a prefix", RIGHT.slice(0, 3)],
  ["twice the key", RIGHT + RIGHT],
  ["the key's SHA-256 instead of the key", ""], // filled in before()
  ["upper-cased", RIGHT.toUpperCase()],
];

describe("the constant-time equality helper", () => {
  test("equal byte strings are equal, however long", () => {
    for (const s of ["", "a", RIGHT, "é€😀", "x".repeat(4096)]) assert.equal(constantTimeEqual(bytes(s), bytes(s)), true, s);
  });

  test("a difference in any position, any length difference, and emptiness on either side make them unequal", () => {
    const base = bytes(RIGHT);
    for (let i = 0; i < base.length; i++) {
      const other = base.slice();
      other[i] = other[i]! ^ 0x01;
      assert.equal(constantTimeEqual(other, base), false, `byte ${i} differs`);
    }
    assert.equal(constantTimeEqual(base.subarray(0, base.length - 1), base), false, "shorter");
    assert.equal(constantTimeEqual(bytes(RIGHT + "x"), base), false, "longer");
    assert.equal(constantTimeEqual(new Uint8Array(0), base), false, "given empty");
    assert.equal(constantTimeEqual(base, new Uint8Array(0)), false, "expected empty");
    // A repetition of the expected value must not pass (the loop indexes `expected` modulo its length).
    assert.equal(constantTimeEqual(bytes("abab"), bytes("ab")), false, "a repetition");
    assert.equal(constantTimeEqual(bytes("\0"), new Uint8Array(0)), false, "a zero byte against nothing");
    assert.equal(constantTimeEqual(bytes("é"), bytes("e")), false, "non-ASCII");
  });

  test("the string form agrees with the byte form on ASCII and tells apart what differs in any code unit", () => {
    const cases: Array<[string, string]> = [[RIGHT, RIGHT], [RIGHT.slice(0, -1) + "x", RIGHT], [RIGHT + "x", RIGHT], ["", RIGHT], [RIGHT, ""], ["", ""], ["abab", "ab"]];
    for (const [a, b] of cases) assert.equal(constantTimeEqualText(a, b), constantTimeEqual(bytes(a), bytes(b)), `${a} vs ${b}`);
    assert.equal(constantTimeEqualText("é", "e"), false);
    assert.equal(constantTimeEqualText("😀", "😀"), true);
    assert.equal(constantTimeEqualText("😀", "😁"), false);
  });

  test("digestBytes reads back the hex that hashApiKey writes", async () => {
    const hex = await hashApiKey(RIGHT);
    const back = [...digestBytes(hex)].map((b) => b.toString(16).padStart(2, "0")).join("");
    assert.equal(back, hex);
    assert.equal(digestBytes(hex).length, 32);
  });
});

describe("KeyStore", () => {
  test("accepts each configured key (also the second time, from memory) and refuses near misses with unauthorized", async () => {
    const store = new KeyStore(await testApiKeys());
    for (let round = 0; round < 2; round++) {
      assert.equal((await store.authenticate(`Bearer ${KEYS.full}`)).name, "full");
      assert.equal((await store.authenticate(`bearer ${KEYS.orders}`)).name, "orders");
    }
    const misses = [...NEAR_MISSES.map(([, k]) => k).filter(Boolean), await hashApiKey(RIGHT), "é", "😀", KEYS.full + "é"];
    for (const key of misses) {
      await assert.rejects(store.authenticate(`Bearer ${key}`), (err: unknown) => err instanceof EdgeError && err.code === "UNAUTHORIZED", key);
    }
    for (const header of [undefined, "", "Bearer", "Bearer ", "Basic " + btoa("a:b"), KEYS.full]) {
      await assert.rejects(store.authenticate(header), (err: unknown) => err instanceof EdgeError && err.code === "UNAUTHORIZED", String(header));
    }
    // Refusals did not disturb what is remembered.
    assert.equal((await store.authenticate(`Bearer ${KEYS.full}`)).name, "full");
  });
});

/** One raw HTTP/1.1 exchange, so a header can carry bytes fetch() would refuse to send (UTF-8). */
function rawRequest(url: string, head: Buffer, body: string): Promise<{ status: number; contentType: string; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("raw request: no complete answer within 15 s"));
    }, 15_000);
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("utf8");
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      const contentType = /\r\ncontent-type: *([^\r]*)/i.exec(text)?.[1] ?? "";
      resolve({ status, contentType, body: text.slice(text.indexOf("\r\n\r\n") + 4) });
    });
    socket.write(Buffer.concat([head, Buffer.from(body)]));
  });
}

let broker: TestBroker;
const edges: TestEdge[] = [];
before(async () => {
  broker = await startTestBroker({ nodes: 1 });
  NEAR_MISSES[6]![1] = await hashApiKey(RIGHT);
});
after(async () => {
  await Promise.allSettled(edges.map((e) => e.stop()));
  await broker?.stop();
});

for (const runtime of EDGE_RUNTIMES) {
  describe(`API keys on ${runtime}`, () => {
    let edge: TestEdge;
    before(async () => {
      edge = await startTestEdge({ runtime, broker, registryDir: writeTestRegistry(), apiKeys: await testApiKeys() });
      edges.push(edge);
    });
    const post = (authorization: string | undefined, id: string) =>
      fetch(`${edge.url}/v1/events/order.created`, {
        method: "POST",
        headers: { ...(authorization === undefined ? {} : { authorization }), "content-type": "application/json", "idempotency-key": id },
        body: JSON.stringify(VALID_ORDER_V2),
      });
    const assertUnauthorized = async (res: Response, what: string) => {
      assert.equal(res.status, 401, `${what}: ${await res.clone().text()}`);
      assert.equal(res.headers.get("content-type"), "application/problem+json", what);
      const problem = (await res.json()) as { type: string; status: number };
      assert.equal(problem.type, "https://jetgate.dev/problems/unauthorized", what);
      assert.equal(problem.status, 401, what);
    };

    test("the right key is accepted", async () => {
      const res = await post(`Bearer ${RIGHT}`, `${runtime}-key-ok`);
      assert.equal(res.status, 202, await res.clone().text());
    });

    test("a key differing in its last byte, its first, its length or its case is refused with 401 problem+json", async () => {
      for (const [what, key] of NEAR_MISSES) await assertUnauthorized(await post(`Bearer ${key}`, `${runtime}-${what}`), what);
      // The right key still works after the refusals (nothing poisoned the remembered keys).
      assert.equal((await post(`Bearer ${RIGHT}`, `${runtime}-key-ok-again`)).status, 202);
    });

    test("no key, an empty key and other schemes are refused with 401 problem+json", async () => {
      for (const header of [undefined, "", "Bearer", "Bearer ", "Basic Zm9vOmJhcg==", RIGHT]) {
        await assertUnauthorized(await post(header, `${runtime}-none`), `authorization ${JSON.stringify(header)}`);
      }
    });

    test("a key with non-ASCII characters (Latin-1 and raw UTF-8 bytes) is refused with 401 problem+json", async () => {
      // fetch sends Latin-1 as single bytes; UTF-8 needs a raw request.
      await assertUnauthorized(await post(`Bearer ${RIGHT}é`, `${runtime}-latin1`), "a Latin-1 key");
      const { host } = new URL(edge.url);
      const body = JSON.stringify(VALID_ORDER_V2);
      for (const key of [`${RIGHT}é`, `é${RIGHT.slice(1)}`, "😀", `${RIGHT.slice(0, -1)}€`]) {
        const head = Buffer.concat([
          Buffer.from(`POST /v1/events/order.created HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nauthorization: Bearer `),
          Buffer.from(key, "utf8"),
          Buffer.from("\r\n\r\n"),
        ]);
        const res = await rawRequest(edge.url, head, body);
        assert.equal(res.status, 401, `UTF-8 key ${key}: ${res.body}`);
        assert.equal(res.contentType, "application/problem+json", `UTF-8 key ${key}`);
        assert.equal((JSON.parse(res.body) as { type: string }).type, "https://jetgate.dev/problems/unauthorized");
      }
    });
  });
}
