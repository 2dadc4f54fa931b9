// Content filters (`where`, CEL; issue 14): a subscriber receives exactly the events its expression
// is true for, on every path that delivers (the shared fan-out, an ordered subscription's durable,
// a backfill of a late subscription, a replay), and an expression that fails on an event (a missing
// field) is no delivery, counted. The events are generated (fast-check); what each subscriber should
// get is decided twice in the test, by cel-js evaluating the same expression directly and by an
// independent JS predicate, which must agree.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Environment } from "@marcbachmann/cel-js";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { nuid } from "@nats-io/nats-core";
import { encodeEvent, webhookIdOf } from "../../broker/index.ts";
import { replayToSubscription, SubscriptionStore } from "../../bridge/index.ts";
import { startTestBroker } from "../harness/nats.ts";
import { publishEdgeStyle } from "../harness/events.ts";
import { startReceiver, type Receiver } from "../harness/receiver.ts";
import { addSubscription, startTestBridge, subscribeReceivers, waitUntil, SECRET_A } from "./helpers.ts";

interface Generated {
  id: string;
  type: "order.created" | "order.updated";
  source: string;
  subject?: string;
  /** The JSON text of data, so that 150 and 150.0 and 150.5 all travel as written. */
  amountText: string;
  country: "DE" | "FR" | "US";
  coupon?: string;
  tags: string[];
}

interface Filter {
  where: string;
  /** The same condition in plain JS, written from the expression's meaning, not from the bridge. */
  js: (e: Generated) => boolean;
}

const amount = (e: Generated) => Number(e.amountText);

const FILTERS: Record<string, Filter> = {
  // The example: a JSON number compared with an integer literal, whether it is 150 or 150.5.
  "big-de": { where: "data.total.amount > 100 && data.customer.country == 'DE'", js: (e) => amount(e) > 100 && e.country === "DE" },
  exactly: { where: "data.total.amount == 150 || data.total.amount in [50, 75]", js: (e) => [150, 50, 75].includes(amount(e)) },
  attributes: { where: "event.type == 'order.updated' && (source == '/shop/b' || (has(event.subject) && subject.startsWith('vip-')))", js: (e) => e.type === "order.updated" && (e.source === "/shop/b" || (e.subject?.startsWith("vip-") ?? false)) },
  lists: { where: "data.tags.exists(t, t == 'vip') && !('test' in data.tags)", js: (e) => e.tags.includes("vip") && !e.tags.includes("test") },
  // Reads an optional field without has(): an event without it is an evaluation error, i.e. no match.
  "coupon-strict": { where: "data.coupon.startsWith('X')", js: (e) => e.coupon?.startsWith("X") ?? false },
  "coupon-guarded": { where: "data.?coupon.orValue('') == 'X1' || data.total.amount <= 10.5", js: (e) => e.coupon === "X1" || amount(e) <= 10.5 },
};

const generated: fc.Arbitrary<Generated> = fc.record(
  {
    id: fc.constant(""),
    type: fc.constantFrom("order.created" as const, "order.updated" as const),
    source: fc.constantFrom("/shop/a", "/shop/b"),
    subject: fc.constantFrom("vip-1", "std-2", "vip-3"),
    amountText: fc.oneof(
      fc.constantFrom("150", "150.0", "150.5", "100", "100.0", "50", "75.0", "10.5", "10"),
      fc.integer({ min: 0, max: 300 }).map(String),
      fc.integer({ min: 0, max: 3000 }).map((n) => (n / 10).toFixed(1)),
    ),
    country: fc.constantFrom("DE" as const, "FR" as const, "US" as const),
    coupon: fc.constantFrom("X1", "X2", "Y1"),
    tags: fc.subarray(["vip", "new", "test"]),
  },
  { requiredKeys: ["id", "type", "source", "amountText", "country", "tags"] },
);

function dataText(e: Generated): string {
  const rest = JSON.stringify({ customer: { country: e.country }, tags: e.tags, ...(e.coupon !== undefined ? { coupon: e.coupon } : {}) });
  return `{"total":{"amount":${e.amountText},"currency":"EUR"},${rest.slice(1)}`;
}

/** What the bridge's expression sees, built here from the event as generated (independent of where.ts). */
function celVariables(e: Generated): Record<string, unknown> {
  const data = JSON.parse(dataText(e));
  const attrs = { specversion: "1.0", id: e.id, source: e.source, type: e.type, ...(e.subject ? { subject: e.subject } : {}) };
  // `type` is CEL's type of types: the attribute is event.type only.
  const { type: _type, ...named } = attrs;
  return { ...named, data, event: { ...attrs, data }, extensions: {} };
}

// cel-js itself with every variable dyn, optional chaining on as the bridge has it.
const direct = new Environment({ enableOptionalTypes: true, unlistedVariablesAreDyn: true });

function celSays(filter: Filter, e: Generated): boolean {
  try {
    return direct.evaluate(filter.where, celVariables(e)) === true;
  } catch {
    return false;
  }
}

async function publish(nc: Awaited<ReturnType<Awaited<ReturnType<typeof startTestBroker>>["connect"]>>, e: Generated): Promise<void> {
  const message = encodeEvent({ id: e.id, source: e.source, type: e.type, time: new Date().toISOString(), ...(e.subject ? { subject: e.subject } : {}) }, new TextEncoder().encode(dataText(e)));
  await publishEdgeStyle(jetstream(nc), message);
}

function idsSeen(rx: Receiver): string[] {
  return rx.requests.map((r) => (JSON.parse(r.body) as { id: string }).id);
}

test("cel-js and an independent JS predicate agree on what each where expression selects", () => {
  fc.assert(
    fc.property(generated, (e) => {
      for (const [name, f] of Object.entries(FILTERS)) assert.equal(celSays(f, e), f.js(e), `${name} on ${dataText(e)} (${e.type} ${e.source} ${e.subject})`);
    }),
    { numRuns: 2_000 },
  );
});

test("where filters deliver exactly the matching events, on the fan-out, an ordered durable, a backfill and a replay; failures are counted", async (t) => {
  const broker = await startTestBroker({ nodes: 3 });
  t.after(() => broker.stop());
  const bridge = await startTestBridge(broker);
  t.after(() => bridge.stop());
  const nc = await broker.connect();
  const specs: Record<string, { filter: Filter; ordered?: boolean }> = {
    ...Object.fromEntries(Object.entries(FILTERS).map(([id, filter]) => [id, { filter }])),
    "ordered-big-de": { filter: FILTERS["big-de"]!, ordered: true },
  };
  const receivers = await subscribeReceivers(t, nc, bridge, Object.fromEntries(
    Object.entries(specs).map(([id, spec]) => [id, { types: ["order.*"], where: spec.filter.where, ...(spec.ordered ? { ordered: true } : {}) }]),
  ));

  const events = fc.sample(generated, { numRuns: 120, seed: 14 }).map((e) => ({ ...e, id: `evt_${nuid.next()}` }));
  for (const e of events) await publish(nc, e);
  const want = (f: Filter) => events.filter((e) => celSays(f, e) && f.js(e)).map((e) => e.id);
  for (const [id, spec] of Object.entries(specs)) {
    assert.ok(want(spec.filter).length > 0 && want(spec.filter).length < events.length, `${id} selects some events but not all (the sample is a useful one)`);
  }
  // A subscription created after the events, from the start of the stream: its backfill filters too.
  const late = await startReceiver();
  t.after(() => late.stop());
  await addSubscription(nc, { id: "late-big-de", url: late.url, secret: SECRET_A, types: ["order.*"], where: FILTERS["big-de"]!.where, startAt: "all" });
  for (const [id, spec] of Object.entries(specs)) await receivers[id]!.waitFor(want(spec.filter).length, 60_000);
  await late.waitFor(want(FILTERS["big-de"]!).length, 60_000);
  await new Promise((r) => setTimeout(r, 500));
  for (const [id, spec] of Object.entries(specs)) {
    assert.deepEqual(idsSeen(receivers[id]!).sort(), want(spec.filter).sort(), `${id} (${spec.filter.where}) received exactly its events, each once`);
  }
  assert.deepEqual(idsSeen(late).sort(), want(FILTERS["big-de"]!).sort(), "a backfill delivers exactly the matching events");
  for (const r of receivers["big-de"]!.requests) {
    const id = (JSON.parse(r.body) as { id: string; source: string }).id;
    const e = events.find((x) => x.id === id)!;
    assert.equal(r.headers["webhook-id"], webhookIdOf(e.source, e.id));
  }

  // Not delivering is counted per subscription: false as no_match, a failing expression as error.
  const counted = async (sub: string, outcome: string) => {
    const metric = await bridge.metrics.filtered.get();
    return metric.values.find((v) => v.labels.subscription === sub && v.labels.outcome === outcome)?.value ?? 0;
  };
  const withoutCoupon = events.filter((e) => e.coupon === undefined).length;
  assert.ok(withoutCoupon > 0);
  await waitUntil("the filtered counters of coupon-strict", 10_000, async () => (await counted("coupon-strict", "error")) >= withoutCoupon);
  assert.ok((await counted("coupon-strict", "no_match")) >= events.length - withoutCoupon - want(FILTERS["coupon-strict"]!).length);
  assert.ok((await counted("ordered-big-de", "no_match")) >= events.length - want(FILTERS["big-de"]!).length, "the ordered runner counts too");
  assert.equal(await counted("coupon-guarded", "error"), 0, "an optional read (.?) is not an error");

  // A replay of the whole range to one subscription sends only what its where selects.
  const before = receivers.exactly!.requests.length;
  const store = await SubscriptionStore.open(nc);
  const info = await (await jetstreamManager(nc)).streams.info("EVENTS");
  const { replayed } = await replayToSubscription(nc, store, "exactly", { fromSeq: info.state.first_seq, toSeq: info.state.last_seq });
  assert.equal(replayed, want(FILTERS.exactly!).length, "the replay selects by where");
  await receivers.exactly!.waitFor(before + replayed, 30_000);
});
