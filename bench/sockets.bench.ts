// Browser sockets (GET /v1/ws, docs/browsers.md) against single-event HTTPS, on both runtimes of
// the edge (workerd through Miniflare, then Node in a child process), one 3-node R3 cluster:
//
//  1. Publish rate and ack latency at the same concurrency (publishes in flight): 10 sockets × 1
//     in flight against POST /v1/events at c=10, and 10 sockets × 10 in flight against c=100.
//     The same structured CloudEvent (~1 KB, a fresh id each) goes both ways, so the edge does the
//     same work per event and the ratio WS/HTTPS is what a socket saves per request (goal ≥ 1.5×).
//  2. Fan-out latency: 100 sockets subscribed to order.created, events published straight into
//     JetStream at 200/s (paced, open loop), each timed from its publish to its receipt at every
//     socket, beside a plain core-NATS subscriber on events.> in this same process as the floor
//     (goal on the Node edge: socket p99 ≤ floor p99 + 10 ms).
// Beside them, direct Node → JetStream publishing at the same in-flight counts: the ceiling both
// paths share (on 2 cores, nats-server's share of each event bounds what any edge can gain).
//
// The load generator (autocannon, the ws clients, the publisher, the floor subscriber) is this
// process; the edge and nats-server are others, and each phase reports the CPU each spent per
// event (bench/proc.ts), so a slow figure says where the time went. Every server is stopped by
// PID at the end, even on failure. Figures only: nothing here asserts a timing.
import type { ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { cpus } from "node:os";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { WebSocket } from "ws";
import { startTestBroker, type TestBroker } from "../test/harness/nats.ts";
import { writeTestRegistry, VALID_ORDER_V2 } from "../test/edge/fixtures.ts";
import { edgeStyleEvent, publishEdgeStyle } from "../test/harness/events.ts";
import { startEdgeWorkerd } from "../worker/dev/index.ts";
import { DEV_API_KEY, devApiKeys } from "../worker/auth/keys.ts";
import { eventSubject } from "../broker/index.ts";
import { measureDirectPublish } from "./direct-publish.ts";
import { paced } from "./paced.ts";
import { childPids, cpuMeter, machineCpuMs } from "./proc.ts";
import { startServer, stopChild } from "./servers.ts";
import { closeSockets, eventIdOf, eventTemplate, figures, histogram, mintToken, openSocket, publishLoad, subscribeAll, type LatencyFigures } from "./ws-client.ts";
import type { BenchContext, BenchRow } from "./lib.ts";

// autocannon ships no types; this is the part of its API used here.
interface Tracker extends PromiseLike<{ errors: number; timeouts: number; non2xx: number }> {
  on(event: "response", listener: (client: unknown, statusCode: number, bytes: number, ms: number) => void): void;
}
const autocannon = createRequire(import.meta.url)("autocannon") as (opts: Record<string, unknown>) => Tracker;

const group = "sockets";
const TYPE = "order.created";
/** ~1 KB of event data, like the other ingest figures. */
const DATA = { ...VALID_ORDER_V2, note: "x".repeat(880) };
const VARS = { LOG_REQUESTS: "false", RATE_LIMIT_PER_SECOND: "0", PUBLISHER_SHARDS: "4", TOKEN_SECRET: "bench-token-secret-at-least-32-bytes-long!" };
/** [sockets, publishes in flight on each]; HTTPS runs at c = their product. */
const PIPELINES: Array<[number, number]> = [
  [10, 1],
  [10, 10],
];
const FANOUT_SOCKETS = 100;
const FANOUT_RATE = 200;

type Runtime = "workerd" | "node";
/** JETGATE_BENCH_RUNTIMES=node (or workerd) runs one runtime only, e.g. to profile it. */
const RUNTIMES = (process.env.JETGATE_BENCH_RUNTIMES ?? "workerd,node").split(",").filter((r): r is Runtime => r === "workerd" || r === "node");

interface Edge {
  url: string;
  pids: number[];
  stop(): Promise<void>;
}

interface Phase {
  rate: number;
  count: number;
  errors: number;
  firstProblem?: string;
  latency: LatencyFigures;
  cpu: CpuFigures;
}

async function startEdge(runtime: Runtime, broker: TestBroker, registryDir: string): Promise<Edge> {
  const apiKeys = await devApiKeys();
  if (runtime === "workerd") {
    const before = new Set(childPids("workerd"));
    const running = await startEdgeWorkerd({ natsWebsocketUrls: broker.websocketUrls, registryDir, apiKeys, vars: VARS });
    const pids = childPids("workerd").filter((pid) => !before.has(pid));
    return {
      url: running.url,
      pids,
      // Miniflare's dispose ends workerd; its PIDs are killed after that in case it did not.
      stop: async () => {
        await running.stop().catch(() => undefined);
        for (const pid of pids) killQuietly(pid);
      },
    };
  }
  const running = await startServer("serve-edge", { servers: broker.servers, registryDir, apiKeys, vars: VARS });
  return { url: running.url, pids: [running.proc.pid!], stop: () => stopChild(running.proc as ChildProcess) };
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

interface CpuFigures {
  /** µs per event, by process group. */
  perEvent: Record<string, number>;
  /** What other processes on the machine used meanwhile, in % of all its cores. */
  othersPct: number;
}

/**
 * CPU spent from now until `stop(events)`: by the edge, nats-server and this process, per event,
 * and by everything else on the (shared) machine, so a figure taken while others ran says so.
 */
function meterCpu(edge: Edge, broker: TestBroker): { stop(events: number): CpuFigures } {
  const meter = cpuMeter({ edge: edge.pids, "nats-server ×3": broker.nodes.map((n) => n.pid), "bench (load)": [process.pid] });
  const machine0 = machineCpuMs();
  const t0 = performance.now();
  return {
    stop(events) {
      const cpu = meter.stop();
      const machine = machineCpuMs().busy - machine0.busy;
      const mine = Object.values(cpu).reduce((a, b) => a + b, 0);
      const wall = performance.now() - t0;
      return {
        perEvent: Object.fromEntries(Object.entries(cpu).map(([k, ms]) => [k, events > 0 ? (ms * 1000) / events : Number.NaN])),
        othersPct: Math.max(0, (100 * (machine - mine)) / (wall * cpus().length)),
      };
    },
  };
}

function cpuNote(cpu: CpuFigures): string {
  return "CPU µs/event: " + Object.entries(cpu.perEvent).map(([k, us]) => `${k} ${Math.round(us)}`).join(", ") + `; other processes ${Math.round(cpu.othersPct)}% of the machine`;
}

/** POST /v1/events (structured, a fresh id each) with autocannon at `connections`, each response timed. */
async function httpsLoad(edge: Edge, broker: TestBroker, connections: number, seconds: number, prefix: string): Promise<Phase> {
  const event = eventTemplate(TYPE, "/bench/https", DATA);
  let n = 0;
  const hist = histogram();
  let ok = 0;
  let refused = 0;
  const meter = meterCpu(edge, broker);
  const started = performance.now();
  const tracker = autocannon({
    url: `${edge.url}/v1/events`,
    method: "POST",
    connections,
    duration: seconds,
    headers: { authorization: `Bearer ${DEV_API_KEY}`, "content-type": "application/cloudevents+json" },
    requests: [{ setupRequest: (req: Record<string, unknown>) => ({ ...req, body: event(`${prefix}-${n++}`) }) }],
  });
  tracker.on("response", (_client, status, _bytes, ms) => {
    if (status === 202) {
      ok++;
      hist.recordValue(Math.max(1, Math.round(ms * 1000)));
    } else refused++;
  });
  const result = await tracker;
  const elapsed = (performance.now() - started) / 1000;
  return {
    cpu: meter.stop(ok),
    rate: ok / elapsed,
    count: ok,
    errors: refused + result.errors + result.timeouts,
    firstProblem: refused > 0 ? `${refused} answers were not 202` : undefined,
    latency: figures(hist),
  };
}

async function wsLoad(edge: Edge, broker: TestBroker, sockets: WebSocket[], depth: number, seconds: number, prefix: string): Promise<Phase> {
  const meter = meterCpu(edge, broker);
  const run = await publishLoad(sockets, { depth, seconds, prefix, event: eventTemplate(TYPE, "/bench/ws", DATA) });
  return { rate: run.rate, count: run.acked, errors: run.errors, firstProblem: run.firstProblem, latency: run.latency, cpu: meter.stop(run.acked) };
}

function latencyNote(l: LatencyFigures): string {
  return `ack p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms, max ${l.max.toFixed(1)} ms`;
}

async function publishPhases(ctx: BenchContext, runtime: Runtime, edge: Edge, broker: TestBroker, direct: Map<number, number>, rows: BenchRow[]): Promise<number> {
  const s = ctx.seconds;
  const run = randomUUID().slice(0, 8);
  const maxSockets = Math.max(...PIPELINES.map(([n]) => n));
  const sockets: WebSocket[] = [];
  let errors = 0;
  try {
    for (let i = 0; i < maxSockets; i++) sockets.push(await openSocket(edge.url, await mintToken(edge.url, DEV_API_KEY)));
    ctx.progress(`sockets: ${runtime} warm-up, HTTPS then WS, ${Math.min(2, s)}s each`);
    await httpsLoad(edge, broker, 10, Math.min(2, s), `${run}-warm-https`);
    await wsLoad(edge, broker, sockets, 1, Math.min(2, s), `${run}-warm-ws`);
    for (const [n, depth] of PIPELINES) {
      const c = n * depth;
      ctx.progress(`sockets: ${runtime} HTTPS c=${c} for ${s}s, then ${n} sockets × ${depth} in flight for ${s}s`);
      const https = await httpsLoad(edge, broker, c, s, `${run}-https-${c}`);
      const ws = await wsLoad(edge, broker, sockets.slice(0, n), depth, s, `${run}-ws-${n}x${depth}`);
      errors += https.errors + ws.errors;
      for (const p of [https, ws]) if (p.firstProblem) ctx.progress(`sockets: ${runtime}: ${p.errors} errors, first: ${p.firstProblem}`);
      rows.push(
        {
          group,
          name: `${runtime} HTTPS POST /v1/events, structured (c=${c}, 1 KB)`,
          value: https.rate,
          unit: "events/s",
          better: "higher",
          note: `${latencyNote(https.latency)}; ${cpuNote(https.cpu)}`,
        },
        {
          group,
          name: `${runtime} WebSocket publish (${n} sockets × ${depth} in flight, 1 KB)`,
          value: ws.rate,
          unit: "events/s",
          better: "higher",
          ratio: { against: `${runtime} HTTPS at c=${c}`, value: ws.rate / https.rate, goal: "≥ 1.5" },
          note: `${latencyNote(ws.latency)}; ${cpuNote(ws.cpu)}; ${((100 * ws.rate) / (direct.get(c) ?? Number.NaN)).toFixed(0)}% of direct publishing at ${c} in flight (HTTPS ${((100 * https.rate) / (direct.get(c) ?? Number.NaN)).toFixed(0)}%)`,
        },
        { group, name: `${runtime} WebSocket ack p50 (${n}×${depth})`, value: ws.latency.p50, unit: "ms", better: "lower", ratio: { against: `HTTPS p50 at c=${c}`, value: ws.latency.p50 / https.latency.p50 } },
        { group, name: `${runtime} WebSocket ack p99 (${n}×${depth})`, value: ws.latency.p99, unit: "ms", better: "lower", ratio: { against: `HTTPS p99 at c=${c}`, value: ws.latency.p99 / https.latency.p99 } },
      );
    }
  } finally {
    await closeSockets(sockets);
  }
  return errors;
}

interface FanoutFigures {
  sent: number;
  sockets: LatencyFigures;
  floor: LatencyFigures;
  /** Receipts missing at the sockets (of sent × sockets) and at the floor subscriber (of sent). */
  missingAtSockets: number;
  missingAtFloor: number;
  outOfOrder: number;
  /** Close codes of sockets that closed during the phase. */
  closes: number[];
  cpu: CpuFigures;
}

/**
 * Publishes `rate`/s for `seconds` straight into JetStream, stamping each publish's start by the
 * event's index, and times its receipt at every socket and at `floor` (core NATS on events.>).
 */
async function fanout(edge: Edge, broker: TestBroker, nc: NatsConnection, sockets: WebSocket[], rate: number, seconds: number, prefix: string): Promise<FanoutFigures> {
  const js = jetstream(nc);
  const body = new TextEncoder().encode(JSON.stringify(DATA));
  const total = Math.round(rate * seconds);
  const sentAt = new Float64Array(total).fill(Number.NaN);
  const socketHist = histogram();
  const floorHist = histogram();
  let atSockets = 0;
  let atFloor = 0;
  let outOfOrder = 0;
  const indexOf = (id: string | undefined | null): number => {
    if (!id || !id.startsWith(prefix)) return -1;
    return Number(id.slice(prefix.length));
  };
  const record = (h: typeof socketHist, i: number, now: number) => {
    const t0 = sentAt[i];
    if (t0 === undefined || Number.isNaN(t0)) return false;
    h.recordValue(Math.max(1, Math.round((now - t0) * 1000)));
    return true;
  };
  const floor = nc.subscribe("events.>", {
    callback: (_err, msg) => {
      const now = performance.now();
      const i = indexOf(msg.headers?.get("ce-id"));
      if (i >= 0 && record(floorHist, i, now)) atFloor++;
    },
  });
  const closes: number[] = [];
  const listeners = sockets.map((ws) => {
    let last = -1;
    const onClose = (code: number) => void closes.push(code);
    ws.once("close", onClose);
    const onMessage = (data: Buffer) => {
      const now = performance.now();
      const i = indexOf(eventIdOf(data.toString()));
      if (i < 0) return;
      if (i < last) outOfOrder++;
      last = i;
      if (record(socketHist, i, now)) atSockets++;
    };
    ws.on("message", onMessage);
    return () => {
      ws.off("message", onMessage);
      ws.off("close", onClose);
    };
  });
  const meter = meterCpu(edge, broker);
  try {
    const run = await paced(rate, seconds, (i) => {
      sentAt[i] = performance.now();
      return publishEdgeStyle(js, edgeStyleEvent(`${prefix}${i}`, TYPE, "/bench/fanout", body));
    });
    const expected = run.latencies.length;
    // The last events' receipts: 10 s at most after the last publish.
    const until = performance.now() + 10_000;
    while ((atSockets < expected * sockets.length || atFloor < expected) && performance.now() < until) await sleep(20);
    return {
      cpu: meter.stop(expected),
      sent: expected,
      sockets: figures(socketHist),
      floor: figures(floorHist),
      missingAtSockets: expected * sockets.length - atSockets,
      missingAtFloor: expected - atFloor,
      outOfOrder,
      closes,
    };
  } finally {
    floor.unsubscribe();
    for (const off of listeners) off();
  }
}

async function fanoutPhase(ctx: BenchContext, runtime: Runtime, edge: Edge, broker: TestBroker, nc: NatsConnection, rows: BenchRow[]): Promise<void> {
  const s = ctx.seconds;
  const sockets: WebSocket[] = [];
  try {
    ctx.progress(`sockets: ${runtime} opening ${FANOUT_SOCKETS} sockets subscribed to ${TYPE}`);
    for (let i = 0; i < FANOUT_SOCKETS; i++) sockets.push(await openSocket(edge.url, await mintToken(edge.url, DEV_API_KEY)));
    await subscribeAll(sockets, TYPE);
    const run = randomUUID().slice(0, 8);
    ctx.progress(`sockets: ${runtime} fan-out at ${FANOUT_RATE}/s to ${FANOUT_SOCKETS} sockets: 1 s warm-up, then ${s}s`);
    // The first second after subscribing is reported apart: a subscription whose first pull went
    // astray starts seconds late (worker/sockets/feed.ts FEED_IDLE_HEARTBEAT_MS), and that is
    // not the steady state the measured phase is about.
    const warm = await fanout(edge, broker, nc, sockets, FANOUT_RATE, 1, `${run}-warm-`);
    const f = await fanout(edge, broker, nc, sockets, FANOUT_RATE, s, `${run}-m-`);
    const gap = f.sockets.p99 - f.floor.p99;
    const at = `${FANOUT_RATE}/s, ${FANOUT_SOCKETS} sockets`;
    rows.push(
      {
        group,
        name: `${runtime} fan-out warm-up, the first ${FANOUT_RATE} events after subscribing: slowest receipt`,
        value: warm.sockets.max,
        unit: "ms",
        better: "lower",
        note: `p99 ${warm.sockets.p99.toFixed(1)} ms; ${warm.missingAtSockets} receipts missing 10 s after the last publish`,
      },
      {
        group,
        name: `${runtime} fan-out publish → socket receipt p50 (${at})`,
        value: f.sockets.p50,
        unit: "ms",
        better: "lower",
        note: `${f.sockets.count}/${f.sent * FANOUT_SOCKETS} receipts, ${f.missingAtSockets} missing, ${f.outOfOrder} out of order; max ${f.sockets.max.toFixed(1)} ms`,
      },
      { group, name: `${runtime} fan-out publish → socket receipt p99 (${at})`, value: f.sockets.p99, unit: "ms", better: "lower" },
      { group, name: `${runtime} fan-out receipts missing at the sockets (of ${f.sent} × ${FANOUT_SOCKETS})`, value: f.missingAtSockets, unit: "events", better: "lower", note: `${f.outOfOrder} out of order; ${f.closes.length ? `sockets closed during the phase with ${f.closes.join(", ")}` : "no socket closed"}` },
      { group, name: `${runtime} fan-out publish → socket receipt max (${at})`, value: f.sockets.max, unit: "ms", better: "lower" },
      { group, name: `${runtime} floor: publish → core NATS subscriber p50 (same run)`, value: f.floor.p50, unit: "ms", better: "lower", note: `${f.floor.count}/${f.sent} receipts, ${f.missingAtFloor} missing` },
      { group, name: `${runtime} floor: publish → core NATS subscriber p99 (same run)`, value: f.floor.p99, unit: "ms", better: "lower" },
      { group, name: `${runtime} floor: publish → core NATS subscriber max (same run)`, value: f.floor.max, unit: "ms", better: "lower" },
      {
        group,
        name: `${runtime} fan-out p99 − floor p99`,
        value: gap,
        unit: "ms",
        better: "lower",
        ratio: { against: "goal 10 ms", value: gap / 10, goal: runtime === "node" ? "≤ 1 (≤ floor + 10 ms)" : "" },
        note: `p50 gap ${(f.sockets.p50 - f.floor.p50).toFixed(2)} ms, max gap ${(f.sockets.max - f.floor.max).toFixed(1)} ms; ${cpuNote(f.cpu)} (per published event, ×${FANOUT_SOCKETS} frames)`,
      },
    );
  } finally {
    await closeSockets(sockets);
  }
}

/** A row saying a runtime's phases could not run, with the reason. */
function failedRow(runtime: Runtime, what: string, err: unknown): BenchRow {
  return { group, name: `${runtime} ${what}`, value: Number.NaN, unit: "", better: "higher", note: `failed: ${err instanceof Error ? err.message : String(err)}` };
}

export default async function socketsBench(ctx: BenchContext): Promise<BenchRow[]> {
  ctx.progress("sockets: starting a 3-node cluster");
  const broker = await startTestBroker({ nodes: 3 });
  const registryDir = writeTestRegistry();
  const rows: BenchRow[] = [];
  let edge: Edge | undefined;
  let errors = 0;
  try {
    const nc = await broker.connect();
    // The ceiling of both paths at the same in-flight counts: publishing straight into JetStream.
    const direct = new Map<number, number>();
    for (const inFlight of [...new Set(PIPELINES.map(([n, depth]) => n * depth))]) {
      ctx.progress(`sockets: direct Node → JetStream, ${inFlight} in flight, for ${ctx.seconds}s (the ceiling)`);
      const run = await measureDirectPublish(jetstream(nc), { subject: eventSubject(TYPE), payload: new TextEncoder().encode(JSON.stringify(DATA)), inFlight, seconds: ctx.seconds });
      direct.set(inFlight, run.rate);
      rows.push({ group, name: `direct Node → JetStream R3, ${inFlight} in flight (the ceiling of both)`, value: run.rate, unit: "msg/s", better: "higher", note: `ack p50 ${run.p50Ms.toFixed(2)} ms, p99 ${run.p99Ms.toFixed(2)} ms` });
    }
    for (const runtime of RUNTIMES) {
      ctx.progress(`sockets: starting the ${runtime} edge`);
      edge = await startEdge(runtime, broker, registryDir);
      try {
        try {
          errors += await publishPhases(ctx, runtime, edge, broker, direct, rows);
        } catch (err) {
          ctx.progress(`sockets: ${runtime} publish phases failed: ${(err as Error).message}`);
          rows.push(failedRow(runtime, "publish phases", err));
        }
        try {
          await fanoutPhase(ctx, runtime, edge, broker, nc, rows);
        } catch (err) {
          ctx.progress(`sockets: ${runtime} fan-out failed: ${(err as Error).message}`);
          rows.push(failedRow(runtime, "fan-out", err));
        }
      } finally {
        await edge.stop();
        edge = undefined;
      }
    }
    rows.push({ group, name: "failed publishes over all measured phases (problems, non-202, timeouts)", value: errors, unit: "publishes", better: "lower" });
    return rows;
  } finally {
    await edge?.stop().catch(() => undefined);
    await broker.stop();
  }
}
