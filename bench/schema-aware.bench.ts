// Schema-aware delivery (issue 14): the bridge's delivery rate with a CEL `where` filter and with a
// pinned version, beside plain delivery, in the same run (goal: >= 0.9x each). One bridge process
// (the bundle, as `jetgate bridge` runs it) with the registry built from this repository's
// schemas/, one node (R1, as the delivery throughput figure), one receiver. Each variant is one
// subscription of its own, created before a burst of N order.created v2 events is published; the
// rate is the receiver's, from its first to its last delivery. The variants take turns over
// ROUNDS rounds in a rotating order, so drift on a shared machine falls on all three alike, and
// each figure is the median of its rounds.
//  - plain: `types: ["order.created"]`;
//  - where: the same with `where` true for every event (so the same number is delivered and the
//    figure is the filter's cost, not fewer deliveries);
//  - pinned: `types: ["order.created@1"]`: every v2 event carries `channel`, which v1's closed
//    object does not define, so each delivery is validated, projected and validated again.
// Everything is stopped by PID at the end, even on failure.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { nuid } from "@nats-io/nats-core";
import { jetstream } from "@nats-io/jetstream";
import { startTestBroker } from "../test/harness/nats.ts";
import { freePort } from "../test/harness/ports.ts";
import { publishEdgeStyle } from "../test/harness/events.ts";
import { buildBridgeBundle } from "../bridge/dev/index.ts";
import { buildRegistry } from "../registry/index.ts";
import { encodeEvent } from "../broker/index.ts";
import { spawnBridge, waitHttp } from "./bridge-process.ts";
import { drainRate, startSink, type Sink } from "./sink.ts";
import { ratio, type BenchContext, type BenchRow } from "./lib.ts";
import { stopChild } from "./servers.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const group = "schema-aware";
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ADMIN_TOKEN = "bench-admin-token";
const ROUNDS = 3;
/**
 * The subscription's maxConcurrency: high, so that the figure is the cost of delivering (matching,
 * shaping, signing, posting) and not the task worker's parking. At the default 64, one
 * subscription handed a burst of thousands of tasks at once parks most of them (nak with a delay)
 * and a run delivered 500-700/s whatever the variant (a finding for issue 17, in its note).
 */
const MAX_CONCURRENCY = 1_000;
const V2 = "https://schemas.jetgate.dev/order.created/v2.json";
/** A valid order.created v2 event; `channel` is v2's, so a v1 pin projects every one. */
const DATA = { orderId: "o-1001", customer: { id: "c-1", email: "a@example.com" }, total: { amount: "19.99", currency: "EUR" }, channel: "web" };

interface Variant {
  name: "plain" | "where" | "pinned";
  spec: Record<string, unknown>;
}

const VARIANTS: Variant[] = [
  { name: "plain", spec: { types: ["order.created"] } },
  { name: "where", spec: { types: ["order.created"], where: "data.total.currency == 'EUR' && data.customer.id.startsWith('c-')" } },
  { name: "pinned", spec: { types: ["order.created@1"] } },
];

async function admin(url: string, method: string, path: string, body?: unknown): Promise<void> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${await res.text()}`);
}

/** One variant once: create its subscription, publish n events, time their delivery, delete it. */
async function runOnce(adminUrl: string, js: ReturnType<typeof jetstream>, sink: Sink, variant: Variant, id: string, n: number): Promise<number> {
  await admin(adminUrl, "POST", "/v1/subscriptions", { id, url: sink.url, secret: SECRET, maxConcurrency: MAX_CONCURRENCY, ...variant.spec });
  sink.reset();
  const body = new TextEncoder().encode(JSON.stringify(DATA));
  const publishing = (async () => {
    let pending: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      // As the edge writes it: dataschema names the version the data was checked against.
      const event = encodeEvent({ id: `evt_${nuid.next()}`, source: "/bench/schema-aware", type: "order.created", time: new Date().toISOString(), dataschema: V2 }, body);
      pending.push(publishEdgeStyle(js, event));
      if (pending.length >= 1000) {
        await Promise.all(pending);
        pending = [];
      }
    }
    await Promise.all(pending);
  })();
  try {
    return await drainRate(sink, n, 180_000, () => undefined);
  } finally {
    await publishing;
    await admin(adminUrl, "DELETE", `/v1/subscriptions/${id}`);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export default async function schemaAwareBench(ctx: BenchContext): Promise<BenchRow[]> {
  const n = Math.max(2_000, Math.round(ctx.seconds * 1_500));
  const registryDir = mkdtempSync(join(tmpdir(), "jetgate-bench-registry-"));
  const broker = await startTestBroker({ nodes: 1 });
  const sink = await startSink();
  let bridge: ChildProcess | undefined;
  try {
    await buildRegistry({ dir: join(ROOT, "schemas"), out: registryDir });
    const port = await freePort();
    bridge = spawnBridge(await buildBridgeBundle(), broker.servers, port, {
      JETGATE_BRIDGE_LOG_LEVEL: "warn",
      JETGATE_BRIDGE_ADMIN_TOKEN: ADMIN_TOKEN,
      JETGATE_BRIDGE_REGISTRY: registryDir,
    });
    const adminUrl = `http://127.0.0.1:${port}`;
    await waitHttp(`${adminUrl}/readyz`, 30_000, bridge);
    const js = jetstream(await broker.connect());
    const rates = new Map<Variant["name"], number[]>(VARIANTS.map((v) => [v.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < VARIANTS.length; k++) {
        const variant = VARIANTS[(round + k) % VARIANTS.length]!;
        ctx.progress(`schema-aware: round ${round + 1}/${ROUNDS}, ${variant.name}: ${n} events`);
        rates.get(variant.name)!.push(await runOnce(adminUrl, js, sink, variant, `bench-${variant.name}-${round}`, n));
      }
    }
    const plain = median(rates.get("plain")!);
    const row = (name: Variant["name"], label: string): BenchRow => {
      const value = median(rates.get(name)!);
      return {
        group,
        name: `delivery rate${label}`,
        value,
        unit: "events/s",
        better: "higher",
        ...(name === "plain" ? {} : { ratio: { against: "plain delivery, same run", value: ratio(value, plain), goal: ">= 0.9x" } }),
        note: `rounds ${rates.get(name)!.map((r) => Math.round(r)).join(", ")}/s; ${n} events each`,
      };
    };
    return [row("plain", ", plain (types: [order.created])"), row("where", " with a CEL where (true for every event)"), row("pinned", " pinned to v1 (v2 events, each projected)")];
  } finally {
    await stopChild(bridge);
    await sink.stop();
    await broker.stop();
    rmSync(registryDir, { recursive: true, force: true });
  }
}
