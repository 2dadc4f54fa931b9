// Delivery benchmarks of the bridge (bridge/), side by side with a BullMQ + Redis dispatcher doing
// the same job (sign with Standard Webhooks, POST to the same local receiver):
//  - throughput: a backlog of N events drained to a local receiver, bridge vs BullMQ (R1 stream vs
//    one Redis: both single-node), and the bridge process's peak RSS while doing it;
//  - latency at 1k events/s: publish to JetStream → webhook received (3-node cluster, R3);
//  - end to end at 200 and 1k events/s: POST at the edge (workerd, then Node) → webhook received
//    (3-node cluster), with the CPU each process spent per event.
// Everything runs on free ports and is stopped by PID at the end, even on failure.
// This file is also the BullMQ worker's entry: `node --import tsx bench/delivery.bench.ts bullmq-worker <json>`.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { nuid } from "@nats-io/nats-core";
import { jetstream } from "@nats-io/jetstream";
import { Agent } from "undici";
import { startTestBroker, type TestBroker } from "../test/harness/nats.ts";
import { freePort } from "../test/harness/ports.ts";
import { SubscriptionStore, createSubscription, ssrfPolicy, signHeaders } from "../bridge/index.ts";
import { buildBridgeBundle } from "../bridge/dev/index.ts";
import { spawnBridge, waitHttp } from "./bridge-process.ts";
import { drainRate, startSink, type Sink } from "./sink.ts";
import { percentile, ratio, type BenchContext, type BenchRow } from "./lib.ts";
import { importPeer } from "./peers.ts";
import { paced } from "./paced.ts";
import { childPids, cpuMeter, rssMb } from "./proc.ts";
import { startServer, stopChild } from "./servers.ts";
import { waitPulling } from "../test/bridge/helpers.ts";
import { edgeStyleEvent, publishEdgeStyle } from "../test/harness/events.ts";
import { eventSubject, webhookIdOf } from "../broker/index.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const CONCURRENCY = 64;
/** ~1 KB of event data, like the reference figures in DESIGN.md. */
const DATA = { orderId: "o-1001", customer: { id: "c-1", email: "a@example.com" }, total: { amount: "19.99", currency: "EUR" }, note: "x".repeat(880) };
const group = "delivery";

// ---------- processes ----------

/**
 * The bridge as it runs in production: its own process, the bundle dist/bridge.mjs with the node
 * flags of bridge/build.ts (exactly what `jetgate bridge` starts), settings from env.
 */
async function startBridgeProcess(servers: string[]): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawnBridge(await bridgeBundle(), servers, port, { JETGATE_BRIDGE_LOG_LEVEL: "warn" });
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}/readyz`, 30_000, child);
  return { child, url };
}

let built: Promise<string> | undefined;
/** Built once per run, into the same path `jetgate bridge` and `npm run build:bridge` use. */
function bridgeBundle(): Promise<string> {
  built ??= buildBridgeBundle();
  return built;
}

async function publishBacklog(broker: TestBroker, type: string, count: number): Promise<void> {
  const js = jetstream(await broker.connect());
  const body = new TextEncoder().encode(JSON.stringify(DATA));
  let pending: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const id = `evt_${nuid.next()}`;
    pending.push(publishEdgeStyle(js, edgeLike(id, type, body)));
    if (pending.length >= 1000) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
}

const BENCH_SOURCE = "/bench";

function edgeLike(id: string, type: string, body: Uint8Array) {
  return edgeStyleEvent(id, type, BENCH_SOURCE, body);
}

// ---------- phases ----------

async function bridgeThroughput(ctx: BenchContext, sink: Sink, n: number): Promise<{ rate: number; rss: number }> {
  const broker = await startTestBroker({ nodes: 1 });
  let bridge: { child: ChildProcess } | undefined;
  try {
    ctx.progress(`delivery: publishing a backlog of ${n} events (R1)`);
    await publishBacklog(broker, "bench.throughput", n);
    bridge = await startBridgeProcess(broker.servers);
    const nc = await broker.connect();
    sink.reset();
    ctx.progress("delivery: bridge draining the backlog");
    await createSubscription(await SubscriptionStore.open(nc), { id: "bench", url: sink.url, filter: eventSubject("bench.throughput"), secret: SECRET, startAt: "all", maxConcurrency: CONCURRENCY }, ssrfPolicy({ ssrfAllow: ["127.0.0.1"] }));
    let rss = 0;
    const pid = bridge.child.pid!;
    const rate = await drainRate(sink, n, 120_000, () => (rss = Math.max(rss, rssMb(pid))));
    return { rate, rss };
  } finally {
    await stopChild(bridge?.child);
    await broker.stop();
  }
}

function ensureRedis(ctx: BenchContext): string | null {
  const found = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).stdout.trim();
  if (found) return found;
  if (process.getuid?.() !== 0) {
    ctx.progress("delivery: redis-server missing and not root: skipping the BullMQ peer");
    return null;
  }
  ctx.progress("delivery: installing redis-server from the distro");
  spawnSync("apt-get", ["install", "-y", "redis-server"], { stdio: "ignore" });
  return spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).stdout.trim() || null;
}

async function bullmqThroughput(ctx: BenchContext, sink: Sink, n: number): Promise<{ rate: number; rss: number } | null> {
  const bin = ensureRedis(ctx);
  if (!bin) return null;
  const port = await freePort();
  const redis = spawn(bin, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  let worker: ChildProcess | undefined;
  try {
    const { Queue } = await importPeer<BullMQ>("bullmq", ctx.progress);
    const connection = { host: "127.0.0.1", port };
    await sleep(300);
    const queue = new Queue("webhooks", { connection });
    ctx.progress(`delivery: BullMQ: queueing ${n} jobs`);
    for (let i = 0; i < n; i += 1000) {
      const jobs = Array.from({ length: Math.min(1000, n - i) }, () => {
        const id = `evt_${nuid.next()}`;
        return { name: "deliver", data: { id, type: "bench.throughput", url: sink.url, data: DATA }, opts: { removeOnComplete: true, attempts: 8, backoff: { type: "exponential", delay: 5000 } } };
      });
      await queue.addBulk(jobs);
    }
    await queue.close();
    sink.reset();
    ctx.progress("delivery: BullMQ worker draining the queue");
    worker = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "bullmq-worker", JSON.stringify({ port, concurrency: CONCURRENCY })], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
    let rss = 0;
    const pid = worker.pid!;
    const rate = await drainRate(sink, n, 180_000, () => (rss = Math.max(rss, rssMb(pid))));
    return { rate, rss };
  } finally {
    await stopChild(worker);
    await stopChild(redis);
  }
}

function latencies(sent: Map<string, number>, arrivals: Map<string, number>): number[] {
  const out: number[] = [];
  for (const [id, at] of sent) {
    const got = arrivals.get(id);
    if (got !== undefined) out.push(got - at);
  }
  return out;
}

/**
 * Open loop at `rate`/s (bench/paced.ts); each event's latency runs from its due send time to its
 * arrival at the receiver, and CPU is summed per process group over the phase.
 */
async function paceToWebhook(
  sink: Sink,
  rate: number,
  seconds: number,
  cpuGroups: Record<string, number[]>,
  send: { source: string; event: (id: string) => Promise<unknown> },
): Promise<{ lat: number[]; sent: number; failures: number; cpu: PhaseCpu }> {
  sink.reset();
  const sent = new Map<string, number>();
  const meter = cpuMeter(cpuGroups);
  const started = performance.now();
  const run = await paced(rate, seconds, (_i, due) => {
    const id = `evt_${nuid.next()}`;
    // The receiver stamps arrivals by webhook-id, which is derived from the event's source + id.
    sent.set(webhookIdOf(send.source, id), due);
    return send.event(id);
  });
  await sink.waitFor(sent.size - run.failures, 30_000).catch(() => undefined);
  const cpu = { msByGroup: meter.stop(), wallMs: performance.now() - started, events: sent.size };
  return { lat: latencies(sent, sink.arrivals), sent: sent.size, failures: run.failures, cpu };
}

interface PhaseCpu {
  msByGroup: Record<string, number>;
  wallMs: number;
  events: number;
}

/** A row saying where the CPU of a phase went: µs per event by process group, and cores busy. */
function cpuRow(label: string, cpu: PhaseCpu): BenchRow {
  const totalMs = Object.values(cpu.msByGroup).reduce((a, b) => a + b, 0);
  const parts = Object.entries(cpu.msByGroup).map(([k, ms]) => `${k} ${Math.round((ms * 1000) / cpu.events)}`).join(", ");
  return {
    group,
    name: `${label}: CPU per event, all processes`,
    value: (totalMs * 1000) / cpu.events,
    unit: "µs",
    better: "lower",
    note: `${parts}; ${(totalMs / cpu.wallMs).toFixed(2)} of ${cpus().length} cores busy over the phase`,
  };
}

async function latencyPhases(ctx: BenchContext, sink: Sink): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const s = ctx.seconds;
  const broker = await startTestBroker({ nodes: 3 });
  let bridge: { child: ChildProcess } | undefined;
  let edge: { stop(): Promise<void> } | undefined;
  try {
    bridge = await startBridgeProcess(broker.servers);
    const nc = await broker.connect();
    await createSubscription(await SubscriptionStore.open(nc), { id: "latency", url: sink.url, filter: eventSubject("order.created"), secret: SECRET, maxConcurrency: CONCURRENCY }, ssrfPolicy({ ssrfAllow: ["127.0.0.1"] }));
    // A new R3 durable can take seconds to elect its leader; measure the steady state, not that.
    await waitPulling(nc, "latency", 1, 30_000);
    const js = jetstream(nc);
    const body = new TextEncoder().encode(JSON.stringify(DATA));
    const publish = { source: BENCH_SOURCE, event: (id: string) => publishEdgeStyle(js, edgeLike(id, "order.created", body)) };
    const groups: Record<string, number[]> = { "nats-server ×3": broker.nodes.map((n) => n.pid), bridge: [bridge.child.pid!], "bench (load + receiver)": [process.pid] };
    sink.stamp = true;
    ctx.progress(`delivery: publish → webhook at 1k/s for ${s}s after 1 s of warm-up (3-node cluster, R3)`);
    await paceToWebhook(sink, 1000, 1, groups, publish);
    const direct = await paceToWebhook(sink, 1000, s, groups, publish);
    rows.push(
      { group, name: "JetStream publish → webhook received, p50 (1k/s, R3)", value: percentile(direct.lat, 50), unit: "ms", better: "lower", note: `${direct.lat.length}/${direct.sent} delivered` },
      { group, name: "JetStream publish → webhook received, p99 (1k/s, R3)", value: percentile(direct.lat, 99), unit: "ms", better: "lower" },
      cpuRow("JetStream publish → webhook (1k/s)", direct.cpu),
    );

    // The edge both ways it runs: workerd (Miniflare, in this process's child) and Node (a child).
    const { startEdgeWorkerd } = await import("../worker/dev/index.ts");
    const { writeTestRegistry } = await import("../test/edge/fixtures.ts");
    const { DEV_API_KEY, devApiKeys } = await import("../worker/auth/keys.ts");
    const apiKeys = await devApiKeys();
    const edgeOptions = { registryDir: writeTestRegistry(), apiKeys, vars: { LOG_REQUESTS: "false", RATE_LIMIT_PER_SECOND: "0", PUBLISHER_SHARDS: "4" } };
    for (const runtime of ["workerd", "node"] as const) {
      ctx.progress(`delivery: edge POST → webhook at 200/s and 1k/s (${runtime} edge, 3-node cluster)`);
      let url: string;
      if (runtime === "workerd") {
        const running = await startEdgeWorkerd({ natsWebsocketUrls: broker.websocketUrls, ...edgeOptions });
        edge = running;
        url = running.url;
        groups.edge = childPids("workerd");
      } else {
        const running = await startServer("serve-edge", { servers: broker.servers, ...edgeOptions });
        edge = { stop: () => stopChild(running.proc) };
        url = running.url;
        groups.edge = [running.proc.pid!];
      }
      const agent = new Agent({ connections: 64 });
      const postEvent = async (id: string) => {
        const res = await agent.request({
          origin: url,
          path: "/v1/events/order.created",
          method: "POST",
          headers: { authorization: `Bearer ${DEV_API_KEY}`, "content-type": "application/json", "idempotency-key": id },
          body: JSON.stringify(DATA),
          headersTimeout: 10_000,
        });
        await res.body.dump();
        if (res.statusCode !== 202) throw new Error(`edge answered ${res.statusCode}`);
      };
      // On POST /v1/events/{type} the event's source is the API key's name.
      const post = { source: apiKeys[0]!.name, event: postEvent };
      try {
        await paceToWebhook(sink, 200, 1, groups, post);
        for (const rate of [200, 1000]) {
          const e2e = await paceToWebhook(sink, rate, s, groups, post);
          const at = rate === 1000 ? "1k/s" : `${rate}/s`;
          const p99 = percentile(e2e.lat, 99);
          rows.push(
            { group, name: `edge POST → webhook received, p50 (${at}, ${runtime}, R3)`, value: percentile(e2e.lat, 50), unit: "ms", better: "lower", note: `${e2e.lat.length}/${e2e.sent} delivered, ${e2e.failures} edge errors` },
            {
              group,
              name: `edge POST → webhook received, p99 (${at}, ${runtime}, R3)`,
              value: p99,
              unit: "ms",
              better: "lower",
              ...(rate === 1000 ? { ratio: { against: "goal 25 ms", value: p99 / 25, goal: "< 1 (p99 < 25 ms)" } } : {}),
            },
            cpuRow(`edge POST → webhook (${at}, ${runtime})`, e2e.cpu),
          );
        }
      } finally {
        await agent.close();
        await edge.stop();
        edge = undefined;
      }
    }
  } catch (err) {
    ctx.progress(`delivery: latency phase failed: ${(err as Error).message}`);
    rows.push({ group, name: "latency phases", value: Number.NaN, unit: "ms", better: "lower", note: `failed: ${(err as Error).message}` });
  } finally {
    sink.stamp = false;
    await edge?.stop().catch(() => undefined);
    await stopChild(bridge?.child);
    await broker.stop();
  }
  return rows;
}

export default async function deliveryBench(ctx: BenchContext): Promise<BenchRow[]> {
  // The backlog is sized so that the bridge's goal rate (5k/s) would drain it in about ctx.seconds.
  const n = Math.max(5000, Math.round(5000 * ctx.seconds));
  const sink = await startSink();
  const rows: BenchRow[] = [];
  try {
    const bridge = await bridgeThroughput(ctx, sink, n);
    const peer = await bullmqThroughput(ctx, sink, n);
    rows.push({
      group,
      name: `bridge deliveries/s, ${n} events backlog, concurrency ${CONCURRENCY} (R1)`,
      value: bridge.rate,
      unit: "deliveries/s",
      better: "higher",
      ...(peer ? { ratio: { against: "BullMQ + Redis dispatcher", value: ratio(bridge.rate, peer.rate), goal: "≥ 2×" } } : {}),
      note: "goal ≥ 5k/s; signed, attempt log on, ack after 2xx",
    });
    rows.push({ group, name: "bridge peak RSS while draining", value: bridge.rss, unit: "MB", better: "lower", note: "goal < 100 MB" });
    if (peer) {
      rows.push({ group, name: `BullMQ + Redis deliveries/s (same job, concurrency ${CONCURRENCY})`, value: peer.rate, unit: "deliveries/s", better: "higher" });
      rows.push({ group, name: "BullMQ worker peak RSS", value: peer.rss, unit: "MB", better: "lower" });
    } else {
      rows.push({ group, name: "BullMQ + Redis peer", value: Number.NaN, unit: "deliveries/s", better: "higher", note: "skipped: redis-server missing and not root" });
    }
    rows.push(...(await latencyPhases(ctx, sink)));
  } finally {
    await sink.stop();
  }
  return rows;
}

// ---------- the BullMQ worker (child process) ----------

/** The little of BullMQ's API this peer uses (it is installed apart: bench/peers.ts). */
interface BullMQ {
  Queue: new (name: string, opts: { connection: { host: string; port: number } }) => {
    addBulk(jobs: Array<{ name: string; data: unknown; opts?: Record<string, unknown> }>): Promise<unknown>;
    close(): Promise<void>;
  };
  Worker: new (
    name: string,
    processor: (job: { data: unknown }) => Promise<void>,
    opts: { connection: { host: string; port: number }; concurrency: number },
  ) => { close(): Promise<void> };
}

async function bullmqWorker(args: { port: number; concurrency: number }): Promise<void> {
  const { Worker } = await importPeer<BullMQ>("bullmq", () => {});
  const agent = new Agent({ connections: args.concurrency, keepAliveTimeout: 30_000 });
  const worker = new Worker(
    "webhooks",
    async (job: { data: unknown }) => {
      const { id, type, url, data } = job.data as { id: string; type: string; url: string; data: unknown };
      const body = JSON.stringify({ specversion: "1.0", id, source: "/bench", type, time: new Date().toISOString(), datacontenttype: "application/json", data });
      const target = new URL(url);
      const res = await agent.request({
        origin: target.origin,
        path: target.pathname,
        method: "POST",
        headers: { "content-type": "application/cloudevents+json", ...signHeaders(id, body, [SECRET]) },
        body,
      });
      await res.body.dump();
      if (res.statusCode < 200 || res.statusCode >= 300) throw new Error(`status ${res.statusCode}`);
    },
    { connection: { host: "127.0.0.1", port: args.port }, concurrency: args.concurrency },
  );
  process.once("SIGTERM", () => void worker.close().then(() => process.exit(0)));
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === "bullmq-worker") {
  await bullmqWorker(JSON.parse(process.argv[3] ?? "{}") as { port: number; concurrency: number });
}
