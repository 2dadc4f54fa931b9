// The bridge's rules without a broker: SSRF ranges, config checking, the retry schedule,
// Retry-After, subscription validation, the signature format and how an event is rendered.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Webhook } from "standardwebhooks";
import { addressRefusal, checkUrl, parseAllowList } from "../../bridge/delivery/ssrf.ts";
import { loadBridgeConfig, BRIDGE_DEFAULTS } from "../../bridge/config.ts";
import { nextDelay, parseRetryAfter, scheduledDelay } from "../../bridge/delivery/retry-schedule.ts";
import { parseSubscription, DEFAULT_SCHEDULE_MS } from "../../bridge/subscriptions/model.ts";
import { signHeaders } from "../../bridge/delivery/sign.ts";
import { coveringSubjects, pinnedVersion, selectsSubject } from "../../bridge/subscriptions/selection.ts";
import { BridgeError } from "../../bridge/errors.ts";
import { decodeEvent, webhookIdOf } from "../../broker/index.ts";
import { renderEvent } from "../../bridge/delivery/event.ts";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { SECRET_A, SECRET_B } from "./helpers.ts";

const closed = { allow: [], httpsOnly: false };

test("the SSRF guard refuses loopback, private, link-local, metadata and mapped addresses", () => {
  for (const address of ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.100.100.200", "0.0.0.0", "::1", "fe80::1", "fc00::1", "fd00:ec2::254", "::ffff:127.0.0.1", "224.0.0.1"]) {
    assert.notEqual(addressRefusal(address, closed), null, `${address} must be refused`);
  }
  for (const address of ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]) assert.equal(addressRefusal(address, closed), null);
  const open = { allow: parseAllowList(["127.0.0.1", "10.0.0.0/8"]), httpsOnly: false };
  assert.equal(addressRefusal("127.0.0.1", open), null);
  assert.equal(addressRefusal("10.9.9.9", open), null);
  assert.notEqual(addressRefusal("127.0.0.2", open), null);
});

test("subscription URLs are refused by scheme, https-only, literal address and localhost", () => {
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return (err as BridgeError).code;
    }
    return "ok";
  };
  assert.equal(code(() => checkUrl("http://169.254.169.254/latest/meta-data", closed)), "SSRF_REFUSED");
  assert.equal(code(() => checkUrl("http://[::1]:8080/", closed)), "SSRF_REFUSED");
  assert.equal(code(() => checkUrl("http://localhost/", closed)), "SSRF_REFUSED");
  assert.equal(code(() => checkUrl("ftp://example.com/", closed)), "SSRF_REFUSED");
  assert.equal(code(() => checkUrl("http://example.com/", { allow: [], httpsOnly: true })), "SSRF_REFUSED");
  assert.equal(code(() => checkUrl("https://example.com/hook", { allow: [], httpsOnly: true })), "ok");
});

test("config comes from defaults, then JETGATE_BRIDGE_* variables, then code, and is checked once", () => {
  const config = loadBridgeConfig({ JETGATE_BRIDGE_PORT: "9999", JETGATE_BRIDGE_SSRF_ALLOW: "127.0.0.1, 10.0.0.0/8", JETGATE_BRIDGE_AUTO_DISABLE_AFTER: "2h" }, { host: "0.0.0.0" });
  assert.equal(config.port, 9999);
  assert.equal(config.host, "0.0.0.0");
  assert.deepEqual(config.ssrfAllow, ["127.0.0.1", "10.0.0.0/8"]);
  assert.equal(config.autoDisableAfterMs, 7_200_000);
  assert.equal(config.shutdownDeadlineMs, BRIDGE_DEFAULTS.shutdownDeadlineMs);
  for (const env of [{ JETGATE_BRIDGE_PORT: "x" }, { JETGATE_BRIDGE_SSRF_ALLOW: "not-an-ip" }, { JETGATE_BRIDGE_HTTPS_ONLY: "maybe" }, { JETGATE_BRIDGE_LOG_LEVEL: "loud" }]) {
    assert.throws(() => loadBridgeConfig(env), (err: BridgeError) => err.code === "CONFIG_INVALID");
  }
});

test("the default schedule is Svix's, with ±20% jitter, and runs out after 8 attempts", () => {
  const sub = parseSubscription({ id: "s", url: "https://example.com/" });
  assert.ok(sub.ok);
  assert.deepEqual(sub.value.retry, { scheduleMs: DEFAULT_SCHEDULE_MS, jitter: 0.2 });
  assert.equal(scheduledDelay(sub.value.retry, 1, () => 0), 4000);
  assert.equal(scheduledDelay(sub.value.retry, 1, () => 1), 6000);
  assert.equal(scheduledDelay(sub.value.retry, 2, () => 0.5), 300_000);
  assert.equal(scheduledDelay(sub.value.retry, 8), null);
});

test("Retry-After (seconds or HTTP date) raises the delay, capped", () => {
  const retry = { scheduleMs: [100], jitter: 0 };
  assert.equal(parseRetryAfter("3"), 3000);
  assert.equal(parseRetryAfter(new Date(Date.now() + 10_000).toUTCString())! > 8000, true);
  assert.equal(parseRetryAfter("soon"), null);
  assert.equal(nextDelay(retry, 1, 3000, 60_000), 3000);
  assert.equal(nextDelay(retry, 1, 10, 60_000), 100);
  assert.equal(nextDelay(retry, 1, 999_999_999, 60_000), 60_000);
  assert.equal(nextDelay(retry, 2, 3000, 60_000), null);
});

test("invalid subscriptions come back as a list of field errors", () => {
  const parsed = parseSubscription({ id: "Bad Id", url: "nope", filter: "orders.>", secret: "plain", timeout: "soon", ackWait: "1s", ordered: "yes" });
  assert.equal(parsed.ok, false);
  const paths = parsed.ok ? [] : parsed.errors.map((e) => e.path);
  for (const path of ["id", "url", "filter", "secrets[0]", "timeout", "ordered"]) assert.ok(paths.includes(path), `expected an error on ${path}, got ${paths}`);
  const ordered = parseSubscription({ id: "o", url: "https://example.com/", ordered: true, maxConcurrency: 50 });
  assert.ok(ordered.ok && ordered.value.maxConcurrency === 1);
  const ackWait = parseSubscription({ id: "a", url: "https://example.com/", timeout: "30s", ackWait: "10s" });
  assert.ok(!ackWait.ok && ackWait.errors.some((e) => e.path === "ackWait"));
});

test("types select by glob, pin an exact type's version, and exclude a filter; a consumer's subjects may be wider than the globs", () => {
  const parsed = parseSubscription({ id: "t", url: "https://example.com/", types: ["order.*", "payment.settled", "order.created@1", "order-*.shipped"] });
  assert.ok(parsed.ok, JSON.stringify(parsed));
  const sub = parsed.value;
  assert.equal(sub.filter, undefined);
  for (const [type, selected] of [["order.created", true], ["order.updated", true], ["order.item.added", false], ["payment.settled", true], ["payment.failed", false], ["order-eu.shipped", true], ["orders.shipped", false]] as const) {
    assert.equal(selectsSubject(sub, `events.${type}`), selected, type);
  }
  assert.equal(pinnedVersion(sub, "order.created"), 1);
  assert.equal(pinnedVersion(sub, "order.updated"), undefined);
  // events.*.shipped (wider than order-*.shipped) overlaps events.order.*, which NATS 2.10 refuses
  // in one consumer: then everything is read and each event's type checked.
  assert.deepEqual(coveringSubjects(sub), ["events.>"]);
  const apart = parseSubscription({ id: "a", url: "https://example.com/", types: ["order.*", "order.created@2", "payment.card-*.settled"] });
  // order.created is covered by order.*; events.payment.*.settled is wider than payment.card-*.settled.
  assert.ok(apart.ok && JSON.stringify(coveringSubjects(apart.value)) === JSON.stringify(["events.order.*", "events.payment.*.settled"]), JSON.stringify(apart));
  const everything = parseSubscription({ id: "e", url: "https://example.com/" });
  assert.ok(everything.ok && everything.value.filter === "events.>" && everything.value.types === undefined);

  const refusals: Array<[unknown, string, RegExp]> = [
    [{ types: ["order.*"], filter: "events.order.*" }, "filter", /types or filter, not both/],
    [{ types: [] }, "types", /1 to 64/],
    [{ types: ["Order.*"] }, "types[0]", /type glob/],
    [{ types: ["order.*@1"] }, "types[0]", /exact type pinned/],
    [{ types: ["order.created@0"] }, "types[0]", /exact type pinned/],
    [{ types: ["order.created@1", "order.created@2"] }, "types[1]", /another entry pins it to v1/],
    [{ where: "" }, "where", /CEL expression/],
  ];
  for (const [fields, path, message] of refusals) {
    const r = parseSubscription({ id: "x", url: "https://example.com/", ...(fields as object) });
    assert.ok(!r.ok && r.errors.some((e) => e.path === path && message.test(e.message)), `${JSON.stringify(fields)}: ${JSON.stringify(r)}`);
  }
});

test("signatures follow Standard Webhooks: one v1 signature per live secret over id.timestamp.body", () => {
  const body = JSON.stringify({ hello: "world" });
  const headers = signHeaders("msg_1", body, [SECRET_A, SECRET_B], new Date(Date.now()));
  assert.match(headers["webhook-signature"], /^v1,[A-Za-z0-9+/=]+ v1,[A-Za-z0-9+/=]+$/);
  assert.deepEqual(new Webhook(SECRET_A).verify(body, { ...headers }), { hello: "world" });
  assert.deepEqual(new Webhook(SECRET_B).verify(body, { ...headers }), { hello: "world" });
  const at = new Date(Number(headers["webhook-timestamp"]) * 1000);
  assert.equal(headers["webhook-signature"].split(" ")[0], new Webhook(SECRET_A).sign("msg_1", at, body), "identical to the package's own signature");
});

test("structured rendering: decoded attributes, data spliced byte for byte, non-JSON data as data_base64", () => {
  const h = natsHeaders();
  h.set("ce-specversion", "1.0");
  h.set("ce-id", "a%20b");
  h.set("ce-source", "/caf%C3%A9");
  h.set("ce-type", "big.number");
  h.set("ce-data", "stray"); // not from the edge, which never stores one; must not become a second "data"
  h.set("content-type", "application/json");
  const raw = '{"n": 12345678901234567890}';
  const event = decodeEvent("events.big.number", h, new TextEncoder().encode(raw), "EVENTS:1");
  assert.equal(event.id, "a b");
  assert.equal(event.source, "/café");
  assert.equal(event.webhookId, webhookIdOf("/café", "a b"), "the webhook-id comes from source + id, decoded");
  assert.match(event.webhookId, /^msg_[A-Za-z0-9_-]{43}$/, "and stays header-safe");
  const { body } = renderEvent(event, "structured");
  assert.ok(body.endsWith(`,"data":${raw}}`), body);
  const parsed = JSON.parse(body) as Record<string, unknown>;
  assert.equal(parsed.id, "a b");
  assert.equal(parsed.source, "/café");
  assert.equal(Object.keys(parsed).filter((k) => k === "data").length, 1);
  const binary = renderEvent(event, "binary");
  assert.equal(binary.headers["ce-source"], "/caf%C3%A9", "binary mode keeps header encoding");
  assert.equal(binary.body, raw);

  h.set("content-type", "application/json");
  const broken = renderEvent(decodeEvent("events.x", h, new TextEncoder().encode("{not json"), "EVENTS:2"), "structured");
  assert.equal((JSON.parse(broken.body) as { data_base64: string }).data_base64, Buffer.from("{not json").toString("base64"));
});
