// The start-up wait's rules (broker/jetstream/ready.ts, DESIGN.md decision 15) against real nats-server:
// "not ready yet" is waited out up to a stated deadline and then named; a real error (not found,
// permission denied) is thrown at once, never waited out.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager, JetStreamApiError } from "@nats-io/jetstream";
import { BrokerError, EVENTS_STREAM } from "../../broker/index.ts";
import { isNotReady, untilReady } from "../../broker/jetstream/index.ts";
import { startTestBroker } from "../harness/nats.ts";

test("a start-up wait gives up after its deadline with NOT_READY naming the resource, and logs while it waits", { timeout: 120_000 }, async (t) => {
  const broker = await startTestBroker({ nodes: 3 });
  t.after(() => broker.stop());
  // One node of three restarted alone: no quorum from its first moment, so neither the meta group
  // nor the stream can have a leader. (Stopping two of three live nodes is not enough: a leader
  // that has not yet noticed it lost quorum may still answer an info request.)
  for (const i of [0, 1, 2]) await broker.stopNode(i);
  await broker.startNode(0);
  const nc = await connect({ servers: broker.nodes[0]!.clientUrl });
  t.after(() => nc.close());
  const jsm = await jetstreamManager(nc, { timeout: 1_000, checkAPI: false });
  const waits: string[] = [];
  const err = await untilReady(`stream ${EVENTS_STREAM}`, () => jsm.streams.info(EVENTS_STREAM), {
    deadlineMs: 4_000,
    onWait: (line) => waits.push(line),
  }).then(
    () => assert.fail("a stream without quorum answered"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof BrokerError, `a BrokerError, got ${String(err)}`);
  assert.equal(err.code, "NOT_READY");
  assert.match(err.message, /stream EVENTS had no leader after [\d.]+ s \(deadline 4 s/);
  assert.ok(waits.length >= 1 && waits.every((l) => l.startsWith("waiting for stream EVENTS to elect a leader")), waits.join("\n"));
});

test("a fresh cluster's \"no suitable peers for placement\" is waited out; \"stream not found\" is not", () => {
  // 10005 comes when a meta leader is elected before every peer reported in (seen in CI).
  const noPeers = new JetStreamApiError({ code: 400, err_code: 10005, description: "no suitable peers for placement" });
  const notFound = new JetStreamApiError({ code: 404, err_code: 10059, description: "stream not found" });
  assert.equal(isNotReady(noPeers), true);
  assert.equal(isNotReady(notFound), false);
});

test("a real error is thrown at once, not waited out: stream not found, and permission denied", { timeout: 60_000 }, async (t) => {
  const broker = await startTestBroker({
    nodes: 1,
    extraConfig: `
authorization {
  users: [
    { user: nojs, password: "nojs-secret", permissions: { publish: { deny: ["$JS.API.>"] } } }
    { user: harness, password: "harness-secret" }
  ]
}
no_auth_user: harness
`,
  });
  t.after(() => broker.stop());

  const nc = await broker.connect();
  const jsm = await jetstreamManager(nc);
  let calls = 0;
  const missing = await untilReady("stream NOPE", () => (calls++, jsm.streams.info("NOPE")), { deadlineMs: 30_000 }).catch((e: unknown) => e);
  assert.ok(missing instanceof JetStreamApiError, `the server's answer, got ${String(missing)}`);
  assert.equal(missing.code, 10059);
  assert.equal(calls, 1);

  const denied = await connect({ servers: broker.servers, user: "nojs", pass: "nojs-secret" });
  t.after(() => denied.close());
  const noPermission = await jetstreamManager(denied, { checkAPI: false });
  calls = 0;
  const started = Date.now();
  const refused = await untilReady(`stream ${EVENTS_STREAM}`, () => (calls++, noPermission.streams.info(EVENTS_STREAM)), { deadlineMs: 30_000 }).catch(
    (e: unknown) => e,
  );
  assert.ok(refused instanceof Error && !(refused instanceof BrokerError), `the permission error itself, got ${String(refused)}`);
  assert.equal(calls, 1, `tried once, not waited out (${Date.now() - started} ms, ${String(refused)})`);
});
