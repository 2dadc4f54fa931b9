// When the launcher calls a cluster ready (broker/server/readiness.ts): only once the JetStream
// meta leader has every node as a current peer, which placing an R3 stream needs; and a node that
// dies while starting ends the start at once with EXITED instead of a wait to the deadline.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BrokerError } from "../../broker/index.ts";
import { startBroker, type NodeSpec } from "../../broker/server/index.ts";
import { placementMissing } from "../../broker/server/readiness.ts";
import { startTestBroker } from "../harness/nats.ts";
import { freePorts } from "../harness/ports.ts";

const NAMES = ["n1", "n2", "n3"];

test("a meta leader that never heard one node is not ready for R3 streams, and the wait names that node", () => {
  // /jsz of a fresh cluster that refused EVENTS with 10005 for 60 s (nats-server 2.10.27): every
  // node follows n1, but n1's meta group holds only n1 and n3.
  const state = placementMissing(NAMES, [
    { leader: "n1", replicas: [{ name: "n3", current: true }] },
    { leader: "n1" },
    { leader: "n1" },
  ]);
  assert.deepEqual(state.unlisted, ["n2"]);
  assert.equal(state.leader, "n1");
  assert.match(state.missing ?? "", /meta leader n1 to list n2 as current peers/);
});

test("nodes without one common leader among them, or with a peer offline or behind, are not ready", () => {
  const split = placementMissing(NAMES, [{ leader: "n1" }, { leader: "n2" }, { leader: "n1" }]);
  assert.deepEqual([split.leader, split.unlisted], ["", []]);
  assert.notEqual(split.missing, null);
  const foreign = placementMissing(NAMES, [{ leader: "x9" }, { leader: "x9" }, { leader: "x9" }]);
  assert.notEqual(foreign.missing, null);
  const offline = placementMissing(NAMES, [
    { leader: "n1", replicas: [{ name: "n2", current: true, offline: true }, { name: "n3", current: false }] },
    { leader: "n1" },
    { leader: "n1" },
  ]);
  assert.deepEqual(offline.unlisted, ["n2", "n3"]);
});

test("a leader that lists every other node as a current, online peer is ready", () => {
  const state = placementMissing(NAMES, [
    { leader: "n2" },
    { leader: "n2", replicas: [{ name: "n1", current: true }, { name: "n3", current: true }] },
    { leader: "n2" },
  ]);
  assert.equal(state.missing, null);
});

test("once a fresh 3-node cluster has started, its meta leader has every node as a current peer", { timeout: 120_000 }, async (t) => {
  const broker = await startTestBroker({ nodes: 3, streams: false });
  t.after(() => broker.stop());
  const metas = await Promise.all(
    broker.nodes.map(async (n) => {
      const jsz = (await (await fetch(`http://127.0.0.1:${n.ports.monitor}/jsz`)).json()) as { meta_cluster: { leader: string; cluster_size: number; replicas?: Array<{ name: string; current: boolean }> } };
      return jsz.meta_cluster;
    }),
  );
  const leader = metas[0]!.leader;
  assert.ok(metas.every((m) => m.leader === leader), JSON.stringify(metas));
  const replicas = metas.find((m) => m.replicas)?.replicas ?? [];
  assert.deepEqual(
    replicas.filter((r) => r.current).map((r) => r.name).sort(),
    NAMES.filter((n) => n !== leader),
    JSON.stringify(metas),
  );
  assert.equal(metas[0]!.cluster_size, 3);
});

test("a node that cannot listen ends the start at once with EXITED, not a wait to the deadline", { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "jetgate-exited-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Another process already holds n2's websocket port, as when a parallel run took it first.
  const holder: Server = createServer();
  await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => holder.close(() => resolve())));
  const taken = (holder.address() as { port: number }).port;
  const ports = await freePorts(12);
  const specs: NodeSpec[] = NAMES.map((name, i) => ({
    name,
    dir: join(dir, name),
    ports: { client: ports[i * 4]!, websocket: i === 1 ? taken : ports[i * 4 + 1]!, cluster: ports[i * 4 + 2]!, monitor: ports[i * 4 + 3]! },
  }));
  const err = await startBroker({ nodes: specs, maxFileStore: "1GB", readyTimeoutMs: 45_000 }).then(
    async (broker) => {
      await broker.stop();
      return assert.fail("a cluster with a node that cannot listen started");
    },
    (e: unknown) => e,
  );
  assert.ok(err instanceof BrokerError, String(err));
  assert.equal(err.code, "EXITED", err.message);
});
