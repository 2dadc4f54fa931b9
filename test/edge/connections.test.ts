// The edge never drops a connection for a client's mistake, on both runtimes. Oversized bodies:
// whatever the size (up to the 100 MiB Cloudflare's own front end lets through) and however it is
// framed (Content-Length or chunked), the client gets its 413 problem+json, never a reset because
// the edge answered before the body was sent (the default MAX_EVENT_BYTES, 1 MiB, as a new user
// meets it). A keep-alive connection survives an early refusal; a half-closed one gets its answer.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { startTestBroker, type TestBroker } from "../harness/nats.ts";
import { EDGE_RUNTIMES, startTestEdge, type TestEdge } from "../harness/worker.ts";
import { writeTestRegistry } from "./fixtures.ts";
import { bearer, KEYS, testApiKeys } from "./helpers.ts";

const MIB = 1024 * 1024;
const SIZES_MIB = [2, 5, 9, 11];
/** Each size and framing is posted this often: the reset was a race, seen in ~1 post of 10. */
const REPEATS = 3;

let broker: TestBroker;
const edges = new Map<string, TestEdge>();
before(async () => {
  broker = await startTestBroker({ nodes: 1 });
  const registryDir = writeTestRegistry();
  const apiKeys = await testApiKeys();
  for (const runtime of EDGE_RUNTIMES) edges.set(runtime, await startTestEdge({ runtime, broker, registryDir, apiKeys }));
});
after(async () => {
  await Promise.allSettled([...edges.values()].map((e) => e.stop()));
  await broker?.stop();
});

/** A JSON object of about `bytes` bytes: what a client with a too-big event really sends. */
function bigJson(bytes: number): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ orderId: "o-big", pad: "x".repeat(bytes - 32) }));
}

/** fetch sends a ReadableStream body with Transfer-Encoding: chunked and no Content-Length. */
function chunkedStream(bytes: Uint8Array, step = 64 * 1024): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(sent, sent + step));
      sent += step;
    },
  });
}

/** One request on a keep-alive agent; a network error is reported, not thrown. */
function post(agent: http.Agent, url: string, headers: Record<string, string>, body: Buffer): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = http.request(url, { method: "POST", agent, headers: { ...headers, "content-length": String(body.length) }, timeout: 30_000 }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (err: Error & { code?: string }) => resolve({ error: err.code ?? err.message }));
    req.end(body);
  });
}

for (const runtime of EDGE_RUNTIMES) {
  describe(`oversized bodies on ${runtime}`, () => {
    test("after a refusal sent before its 300 KB body was read, the next request on the same keep-alive connection is answered", async () => {
      // A client's connection pool reuses the connection: it must not have been closed under it.
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const url = edges.get(runtime)!.url + "/v1/events/order.created";
        const outcomes: string[] = [];
        for (let i = 0; i < 5; i++) {
          const refused = await post(agent, url, { "content-type": "application/json", ...bearer("jg_wrong") }, Buffer.from(JSON.stringify({ pad: "x".repeat(300_000) })));
          const next = await post(agent, url, { "content-type": "text/plain", ...bearer(KEYS.full) }, Buffer.from("{}"));
          outcomes.push(`${"error" in refused ? refused.error : refused.status} then ${"error" in next ? next.error : next.status}`);
        }
        assert.deepEqual(outcomes, Array(5).fill("401 then 415"));
      } finally {
        agent.destroy();
      }
    });

    for (const framing of ["content-length", "chunked"] as const) {
      test(`2, 5, 9 and 11 MiB posted with ${framing} get 413 payload-too-large, never a network error`, async () => {
        const url = edges.get(runtime)!.url + "/v1/events/order.created";
        const failures: string[] = [];
        for (const mib of SIZES_MIB) {
          const bytes = bigJson(mib * MIB);
          for (let i = 0; i < REPEATS; i++) {
            const body = framing === "chunked" ? chunkedStream(bytes) : bytes;
            try {
              const res = await fetch(url, {
                method: "POST",
                headers: { "content-type": "application/json", ...bearer(KEYS.full) },
                body,
                duplex: "half",
                signal: AbortSignal.timeout(60_000),
              } as RequestInit);
              const text = await res.text();
              if (res.status !== 413 || res.headers.get("content-type") !== "application/problem+json") {
                failures.push(`${mib} MiB: ${res.status} ${res.headers.get("content-type")} ${text.slice(0, 120)}`);
                continue;
              }
              const problem = JSON.parse(text);
              assert.equal(problem.type, "https://jetgate.dev/problems/payload-too-large");
              assert.equal(problem.status, 413);
              assert.equal(typeof problem.detail, "string");
            } catch (err) {
              const cause = (err as { cause?: { code?: string; message?: string } }).cause;
              failures.push(`${mib} MiB: network error ${cause?.code ?? cause?.message ?? String(err)}`);
            }
          }
        }
        assert.deepEqual(failures, [], `posts that did not get a 413 problem on ${runtime} (${framing})`);
      });
    }
  });
}

/** Writes raw bytes on a new socket, half-closes, and returns everything the server sent back. */
function rawExchange(baseUrl: string, bytes: Buffer): Promise<{ text: string; error?: string }> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve) => {
    let text = "";
    const socket = net.connect(Number(port), hostname, () => socket.end(bytes));
    const timer = setTimeout(() => socket.destroy(new Error("no close within 30 s")), 30_000);
    socket.on("data", (c: Buffer) => (text += c.toString("latin1")));
    socket.on("error", (err: Error & { code?: string }) => {
      clearTimeout(timer);
      resolve({ text, error: err.code ?? err.message });
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ text });
    });
  });
}

for (const runtime of EDGE_RUNTIMES) {
  describe(`connections on ${runtime}`, () => {
    test("a client that half-closes after sending its event still gets its 202 (not a closed connection)", async () => {
      const body = JSON.stringify({ orderId: `${runtime}-half`, customer: { id: "c", email: "a@b.c" }, total: { amount: "1.00", currency: "EUR" } });
      const head =
        `POST /v1/events/order.created HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${KEYS.full}\r\n` +
        `Content-Type: application/json\r\nIdempotency-Key: ${runtime}-half-close\r\nContent-Length: ${body.length}\r\n\r\n`;
      const { text, error } = await rawExchange(edges.get(runtime)!.url, Buffer.from(head + body));
      assert.equal(error, undefined, `network error ${error} after ${JSON.stringify(text)}`);
      assert.match(text, /^HTTP\/1\.1 202 /, text);
      assert.match(text, /"duplicate":false/);
    });
  });
}

test("on Node, a request head its HTTP parser refuses gets a problem+json, not a bare status", async () => {
  const cases: Array<[string, string, number, string]> = [
    ["two Content-Lengths", "Content-Length: 2\r\nContent-Length: 7\r\n", 400, "malformed-request"],
    ["a control character in a header", "Content-Length: 2\r\nX-Note: a\x01b\r\n", 400, "malformed-request"],
    ["headers past 16 KiB", `Content-Length: 2\r\nX-Huge: ${"h".repeat(20_000)}\r\n`, 431, "headers-too-large"],
  ];
  for (const [what, headers, status, kind] of cases) {
    const { text, error } = await rawExchange(edges.get("node")!.url, Buffer.from(`POST /v1/events/order.created HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}\r\n{}`, "latin1"));
    assert.equal(error, undefined, `${what}: network error ${error}`);
    assert.match(text, new RegExp(`^HTTP/1\\.1 ${status} `), `${what}: ${text}`);
    assert.match(text, /\r\nContent-Type: application\/problem\+json\r\n/i, `${what}: ${text}`);
    const problem = JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4));
    assert.equal(problem.type, `https://jetgate.dev/problems/${kind}`, what);
    assert.equal(problem.status, status, what);
    assert.equal(typeof problem.detail, "string", what);
  }
});
