// The demo page (GET /demo) in real headless Chromium against a real edge and a real 3-node
// cluster, on each runtime: what a browser app relies on (issue 12). A page connects with a token
// it minted, publishes a valid and an invalid event and shows the ack and the problem; a second
// page subscribed to the type receives the event live; the edge is then restarted on its port
// while events keep being stored, and both pages come back by themselves: every publish made
// meanwhile is acked and stored once, and the subscriber's list holds every matching event of the
// stream exactly once, in order.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager, jetstream } from "@nats-io/jetstream";
import type { Page } from "playwright-core";
import { buildRegistry } from "../../registry/index.ts";
import { devApiKeys, DEV_API_KEY } from "../../worker/index.ts";
import { EVENTS_STREAM } from "../../broker/index.ts";
import { startTestBroker, type TestBroker } from "../harness/nats.ts";
import { EDGE_RUNTIMES, startTestEdge, type EdgeRuntime, type TestEdge } from "../harness/worker.ts";
import { freePort } from "../harness/ports.ts";
import { chromiumMissing, startTestBrowser } from "../harness/browser.ts";
import { edgeStyleEvent, publishEdgeStyle } from "../harness/events.ts";

const ROOT = join(import.meta.dirname, "../..");
const TOKEN_SECRET = "browser-test-token-secret-of-32-bytes-or-more";
const SCHEMA_VALIDATION = "https://jetgate.dev/problems/schema-validation";
/** Every wait below; a browser page, a workerd start and a reconnect after backoff all fit. */
const DEADLINE_MS = 30_000;
/** Events stored straight into JetStream while the edge is down, and published from the page meanwhile. */
const WHILE_DOWN_DIRECT = 3;
const WHILE_DOWN_FROM_PAGE = 2;

const order = (orderId: string) => ({ orderId, customer: { id: "c-1", email: "a@example.com" }, total: { amount: "19.99", currency: "EUR" } });

/** Polls `check` until it returns a value other than undefined; fails naming `what` at the deadline. */
async function until<T>(what: string, check: () => Promise<T | undefined>, deadlineMs = DEADLINE_MS): Promise<T> {
  const end = Date.now() + deadlineMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) assert.fail(`waited ${deadlineMs} ms for ${what}${last ? ` (last error: ${last})` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitSelector(page: Page, selector: string, what: string): Promise<void> {
  try {
    await page.waitForSelector(selector, { timeout: DEADLINE_MS, state: "attached" });
  } catch (err) {
    const status = await page.locator("#status").textContent().catch(() => "?");
    assert.fail(`waited ${DEADLINE_MS} ms for ${what} (${selector}); the page's status line: ${status}; ${err instanceof Error ? err.message.split("\n")[0] : err}`);
  }
}

async function openDemo(page: Page, edge: TestEdge, opens = 1): Promise<void> {
  await page.goto(`${edge.url}/demo`, { timeout: DEADLINE_MS });
  await waitSelector(page, `#status[data-status="open"][data-opens="${opens}"]`, "the demo page's socket to open");
}

async function publishFromPage(page: Page, data: unknown): Promise<void> {
  await page.fill("#publish-data", JSON.stringify(data));
  await page.click("#publish");
}

/** The page's list of received events, as its <li>s say. */
function listed(page: Page): Promise<Array<{ seq: number; type: string; id: string }>> {
  return page.$$eval("#events li", (items) => items.map((li) => ({ seq: Number(li.getAttribute("data-seq")), type: li.getAttribute("data-type") ?? "", id: li.getAttribute("data-id") ?? "" })));
}

/** Every message of the stream after `after`: seq, subject and ce-id. */
async function streamAfter(broker: TestBroker, after: number): Promise<Array<{ seq: number; subject: string; id: string }>> {
  const jsm = await jetstreamManager(await broker.connect());
  const last = (await jsm.streams.info(EVENTS_STREAM)).state.last_seq;
  const out: Array<{ seq: number; subject: string; id: string }> = [];
  for (let seq = after + 1; seq <= last; seq++) {
    const msg = await jsm.streams.getMessage(EVENTS_STREAM, { seq });
    if (msg) out.push({ seq, subject: msg.subject, id: msg.header.get("ce-id") });
  }
  return out;
}

async function lastSeq(broker: TestBroker): Promise<number> {
  const jsm = await jetstreamManager(await broker.connect());
  return (await jsm.streams.info(EVENTS_STREAM)).state.last_seq;
}

for (const runtime of EDGE_RUNTIMES) {
  test(`on ${runtime}: the demo page publishes with acks and problems, a second page receives live, and both resume after an edge restart with every event once`, { skip: chromiumMissing() }, async (t) => {
    // Stopped in the reverse order of their start (t.after hooks run in the order they were added).
    const stops: Array<() => unknown> = [];
    t.after(async () => {
      for (const stop of stops.reverse()) await stop();
    });
    mkdirSync(join(ROOT, ".jetgate/tmp"), { recursive: true });
    const registryDir = mkdtempSync(join(ROOT, ".jetgate/tmp/browser-registry-"));
    stops.push(() => rmSync(registryDir, { recursive: true, force: true }));
    await buildRegistry({ dir: join(ROOT, "schemas"), out: registryDir });
    const broker = await startTestBroker({ nodes: 3 });
    stops.push(() => broker.stop());
    const port = await freePort();
    const edgeOptions = {
      runtime: runtime as EdgeRuntime,
      broker,
      registryDir,
      apiKeys: await devApiKeys(),
      vars: { DEMO_PAGE: "true", TOKEN_SECRET },
      port,
    };
    let edge = await startTestEdge(edgeOptions);
    // The edge running at the end, whichever start that was (none if the restart failed).
    let running: TestEdge | undefined = edge;
    stops.push(() => running?.stop());
    const browser = await startTestBrowser();
    stops.push(() => browser.stop());
    const errors: string[] = [];
    const publisher = await browser.context.newPage();
    const subscriber = await browser.context.newPage();
    for (const page of [publisher, subscriber]) page.on("pageerror", (err) => errors.push(String(err)));

    // Both pages connect with a token minted from the prefilled dev key.
    assert.equal(await (await fetch(`${edge.url}/demo`)).status, 200);
    await openDemo(publisher, edge);
    await openDemo(subscriber, edge);
    assert.equal(await publisher.inputValue("#api-key"), DEV_API_KEY);

    const before = await lastSeq(broker);
    await subscriber.fill("#subscribe-types", "order.*");
    await subscriber.click("#subscribe");
    await waitSelector(subscriber, '#subscription[data-state="subscribed"]', "the subscription to order.* to be confirmed");

    // A valid event (the form's prefilled example) is acked with its seq.
    await publisher.click("#publish");
    await waitSelector(publisher, '#publish-result[data-state="ack"]', "the ack of the prefilled event");
    const ack = await publisher.$eval("#publish-result", (el) => ({ seq: Number(el.getAttribute("data-seq")), id: el.getAttribute("data-id"), duplicate: el.getAttribute("data-duplicate") }));
    assert.ok(ack.seq > before, "the ack names the stream seq");
    assert.equal(ack.duplicate, "false");

    // An invalid one shows the problem: its type, detail and the schema errors.
    await publishFromPage(publisher, { orderId: "" });
    await waitSelector(publisher, '#publish-result[data-state="problem"]', "the problem for the invalid event");
    assert.equal(await publisher.getAttribute("#publish-result", "data-problem-type"), SCHEMA_VALIDATION);
    assert.ok(((await publisher.textContent('#publish-result [data-field="detail"]')) ?? "").length > 0, "the problem's detail is shown");
    assert.ok((await publisher.locator("#publish-errors li").count()) > 0, "the schema errors are listed");

    // The subscribed page has the valid event live, with its seq, type and id.
    await waitSelector(subscriber, `#events li[data-seq="${ack.seq}"]`, `the live event at seq ${ack.seq} on the subscribed page`);
    assert.deepEqual(await listed(subscriber), [{ seq: ack.seq, type: "order.created", id: ack.id }]);

    // Cut both sockets: stop the edge. Events keep arriving in JetStream meanwhile, and the
    // publishing page publishes twice with no socket (queued, sent once it is back).
    running = undefined;
    await edge.stop();
    await waitSelector(publisher, '#status[data-status="reconnecting"]', "the publishing page to notice the edge is gone");
    await waitSelector(subscriber, '#status[data-status="reconnecting"]', "the subscribed page to notice the edge is gone");
    const nc = await broker.connect();
    const js = jetstream(nc);
    for (let i = 0; i < WHILE_DOWN_DIRECT; i++) {
      const data = new TextEncoder().encode(JSON.stringify(order(`o-down-${i}`)));
      await publishEdgeStyle(js, edgeStyleEvent(`down-${runtime}-${i}`, "order.created", "browser-test", data));
    }
    for (let i = 0; i < WHILE_DOWN_FROM_PAGE; i++) await publishFromPage(publisher, order(`o-queued-${i}`));
    assert.equal(await publisher.locator('#publish-log li[data-state="pending"]').count(), WHILE_DOWN_FROM_PAGE, "the page's publishes wait for a socket");

    edge = running = await startTestEdge(edgeOptions);
    await waitSelector(publisher, '#status[data-status="open"][data-opens="2"]', "the publishing page to reconnect by itself");
    await waitSelector(subscriber, '#status[data-status="open"][data-opens="2"]', "the subscribed page to reconnect by itself");

    // Every publish of the page is answered once: the first ack, the problem, then the two queued ones acked.
    const log = await until("every publish on the page to be answered", async () => {
      const states = await publisher.$$eval("#publish-log li", (items) => items.map((li) => ({ state: li.getAttribute("data-state"), seq: Number(li.getAttribute("data-seq")), id: li.getAttribute("data-id") })));
      return states.some((s) => s.state === "pending") ? undefined : states;
    });
    assert.deepEqual(log.map((s) => s.state), ["ack", "problem", "ack", "ack"]);

    // One more, live after the resume, from the page.
    await publishFromPage(publisher, order("o-after"));
    const afterAck = await until("the ack of the event published after the resume", async () => {
      const entry = publisher.locator("#publish-log li").nth(4);
      return (await entry.getAttribute("data-state")) === "ack" ? Number(await entry.getAttribute("data-seq")) : undefined;
    });

    // The stream holds each acked event once, and the subscriber lists the stream's order.* events
    // since it subscribed, each once, in stream order.
    const stored = await streamAfter(broker, before);
    const acked = [log[0]!, log[2]!, log[3]!].map((s) => s.id);
    for (const id of acked) assert.equal(stored.filter((m) => m.id === id).length, 1, `the event ${id} is stored once`);
    const expected = stored.filter((m) => m.subject.startsWith("events.order.")).map((m) => ({ seq: m.seq, type: "order.created", id: m.id }));
    assert.equal(expected.length, 1 + WHILE_DOWN_DIRECT + WHILE_DOWN_FROM_PAGE + 1, "the stream holds the events this test stored, no more");
    assert.equal(expected.at(-1)!.seq, afterAck);
    const received = await until(`the subscribed page to list the ${expected.length} events of the stream (seqs ${expected.map((e) => e.seq).join(", ")})`, async () => {
      const items = await listed(subscriber);
      if (items.length >= expected.length) return items;
      // What the page shows, for the failure message once the deadline passes.
      const shown = `${await subscriber.textContent("#status")}; ${await subscriber.textContent("#subscription")}`;
      throw new Error(`the page lists seqs ${items.map((i) => i.seq).join(", ") || "none"}; it shows: ${shown}`);
    });
    assert.deepEqual(received, expected, "every event once, in stream order: none lost across the restart, none repeated");
    assert.deepEqual(errors, [], "no uncaught error on either page");
  });
}
