// Ingest through the edge, side by side with its limits and peers, all in one run on one 3-node
// R3 cluster:
//   workerd: trivial route (the HTTP floor), single events, batches, p99 at 500 events/s offered,
//            against direct Node publishing into the same cluster (the physical limit);
//   Node:    the same edge on @hono/node-server, beside a minimal hand-written
//            node:http + ajv standalone + JetStream server (what a user would write instead).
// The Node servers run in child processes (this file, re-run with `serve-edge` / `serve-peer`) so
// they do not share a thread with the load generator. Everything is stopped at the end, even on
// failure. Figures only: nothing here asserts a timing.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createRequire } from "node:module";
import { connect } from "@nats-io/transport-node";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { jetstream } from "@nats-io/jetstream";
import { startTestBroker } from "../test/harness/nats.ts";
import { freePort } from "../test/harness/ports.ts";
import { writeTestRegistry, VALID_ORDER_V2 } from "../test/edge/fixtures.ts";
import { startEdgeWorkerd } from "../worker/launch.ts";
import { DEV_API_KEY, devApiKeys } from "../worker/keys.ts";
import { loadRegistry } from "../worker/registry-node.ts";
import { measureDirectPublish, measurePacedPublish } from "./direct-publish.ts";
import type { BenchContext, BenchRow } from "./lib.ts";

// autocannon ships no types; this is the part of its API used here.
interface LoadOptions {
  url: string;
  connections?: number;
  duration: number;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  requests?: Array<{ setupRequest: (req: Record<string, unknown>) => Record<string, unknown> }>;
  overallRate?: number;
}
interface LoadResult {
  requests: { average: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
const autocannon = createRequire(import.meta.url)("autocannon") as (opts: LoadOptions) => Promise<LoadResult>;

const CONNECTIONS = 10;
const BATCH_SIZE = 100;
const BATCH_CONNECTIONS = 4;
const OFFERED_RATE = 500;
/** ~1 KB of event data, like the reference figures in DESIGN.md. */
const DATA = { ...VALID_ORDER_V2, note: "x".repeat(880) };
const VARS = { LOG_REQUESTS: "false", RATE_LIMIT_PER_SECOND: "0", PUBLISHER_SHARDS: "4" };
const AUTH = { authorization: `Bearer ${DEV_API_KEY}` };

interface Load {
  rate: number;
  p50: number;
  p99: number;
  errors: number;
}

async function load(opts: LoadOptions): Promise<Load> {
  const result = await autocannon({ connections: CONNECTIONS, ...opts });
  return {
    rate: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.non2xx + result.errors + result.timeouts,
  };
}

function singleRequest(url: string, seconds: number, extra: Partial<LoadOptions> = {}): Promise<Load> {
  return load({
    url: `${url}/v1/events/order.created`,
    method: "POST",
    headers: { ...AUTH, "content-type": "application/json" },
    body: JSON.stringify(DATA),
    duration: seconds,
    ...extra,
  });
}

/** A fresh batch body for every request, so no event is a duplicate of an earlier one. */
function batchBody(): string {
  const prefix = randomUUID();
  const events = Array.from({ length: BATCH_SIZE }, (_, i) => ({
    specversion: "1.0",
    id: `${prefix}-${i}`,
    source: "/bench",
    type: "order.created",
    data: DATA,
  }));
  return JSON.stringify(events);
}

function batchRequest(url: string, seconds: number): Promise<Load> {
  return load({
    url: `${url}/v1/events`,
    method: "POST",
    connections: BATCH_CONNECTIONS,
    headers: { ...AUTH, "content-type": "application/cloudevents-batch+json" },
    requests: [{ setupRequest: (req) => ({ ...req, body: batchBody() }) }],
    duration: seconds,
  });
}

function trivial(url: string, seconds: number): Promise<Load> {
  return load({ url: `${url}/livez`, duration: seconds });
}

/** Starts this file as a child server (`serve-edge` or `serve-peer`); resolves with its URL. */
async function child(mode: "serve-edge" | "serve-peer", args: Record<string, unknown>): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), mode, JSON.stringify(args)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${mode} did not start within 30 s`)), 30_000);
    let out = "";
    proc.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = /READY (\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    proc.once("exit", (code) => reject(new Error(`${mode} exited with ${code}`)));
  });
  return { url, proc };
}

async function stopChild(proc: ChildProcess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once("exit", resolve));
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

export default async function ingestBench(ctx: BenchContext): Promise<BenchRow[]> {
  const s = ctx.seconds;
  ctx.progress("ingest: starting a 3-node cluster and the edge in workerd");
  const broker = await startTestBroker({ nodes: 3 });
  const registryDir = writeTestRegistry();
  let edge: Awaited<ReturnType<typeof startEdgeWorkerd>> | undefined;
  const children: ChildProcess[] = [];
  try {
    const apiKeys = await devApiKeys();
    edge = await startEdgeWorkerd({ natsWebsocketUrls: broker.websocketUrls, registryDir, apiKeys, vars: VARS });
    const js = jetstream(await broker.connect());
    const payload = new TextEncoder().encode(JSON.stringify(DATA));
    const rows: BenchRow[] = [];
    const group = "ingest";

    // Warm-up: JIT, the publisher shards' connections, the stream leader.
    await singleRequest(edge.url, Math.min(2, s));

    ctx.progress(`ingest: workerd trivial route for ${s}s`);
    const wTrivial = await trivial(edge.url, s);
    ctx.progress(`ingest: workerd single events for ${s}s`);
    const wSingle = await singleRequest(edge.url, s);
    ctx.progress(`ingest: workerd batches of ${BATCH_SIZE} for ${s}s`);
    const wBatch = await batchRequest(edge.url, s);
    ctx.progress(`ingest: workerd at ${OFFERED_RATE} events/s offered, then its floors (trivial route, direct publish), ${s}s each`);
    const wOffered = await singleRequest(edge.url, s, { overallRate: OFFERED_RATE });
    // The floors of that latency: the same rate on the trivial route, and published directly.
    const tOffered = await load({ url: `${edge.url}/livez`, duration: s, overallRate: OFFERED_RATE });
    const directOffered = await measurePacedPublish(js, { subject: "events.order.created", payload, rate: OFFERED_RATE, seconds: s });
    ctx.progress(`ingest: direct Node publishing, ${CONNECTIONS} and ${BATCH_SIZE * BATCH_CONNECTIONS} in flight, ${s}s each`);
    const direct10 = await measureDirectPublish(js, { subject: "events.order.created", payload, inFlight: CONNECTIONS, seconds: s });
    const directBatch = await measureDirectPublish(js, {
      subject: "events.order.created",
      payload,
      inFlight: BATCH_SIZE * BATCH_CONNECTIONS,
      seconds: s,
    });

    await edge.stop();
    edge = undefined;

    ctx.progress("ingest: starting the Node edge and the hand-written peer (child processes)");
    const nodeEdge = await child("serve-edge", { servers: broker.servers, registryDir, apiKeys, vars: VARS });
    children.push(nodeEdge.proc);
    await singleRequest(nodeEdge.url, Math.min(2, s));
    ctx.progress(`ingest: Node edge trivial, single, batch for ${s}s each`);
    const nTrivial = await trivial(nodeEdge.url, s);
    const nSingle = await singleRequest(nodeEdge.url, s);
    const nBatch = await batchRequest(nodeEdge.url, s);
    await stopChild(nodeEdge.proc);

    const peer = await child("serve-peer", { servers: broker.servers, registryDir });
    children.push(peer.proc);
    await singleRequest(peer.url, Math.min(2, s));
    ctx.progress(`ingest: hand-written peer single events for ${s}s`);
    const pSingle = await singleRequest(peer.url, s);
    await stopChild(peer.proc);

    const errors = [wSingle, wBatch, wOffered, tOffered, nSingle, nBatch, pSingle].reduce((n, l) => n + l.errors, 0);
    const c = `c=${CONNECTIONS}, 1 KB`;
    const b = `${BATCH_SIZE}/batch, c=${BATCH_CONNECTIONS}`;
    rows.push(
      { group, name: `workerd trivial route GET /livez (c=${CONNECTIONS})`, value: wTrivial.rate, unit: "req/s", better: "higher" },
      {
        group,
        name: `workerd POST /v1/events/{type} (${c})`,
        value: wSingle.rate,
        unit: "events/s",
        better: "higher",
        ratio: { against: "workerd trivial route", value: wSingle.rate / wTrivial.rate, goal: "≥ 0.6" },
      },
      { group, name: "workerd single event p50", value: wSingle.p50, unit: "ms", better: "lower" },
      { group, name: "workerd single event p99", value: wSingle.p99, unit: "ms", better: "lower" },
      {
        group,
        name: `workerd batch POST /v1/events (${b})`,
        value: wBatch.rate * BATCH_SIZE,
        unit: "events/s",
        better: "higher",
        ratio: { against: `direct Node publish, ${BATCH_SIZE * BATCH_CONNECTIONS} in flight`, value: (wBatch.rate * BATCH_SIZE) / directBatch.rate, goal: "≥ 0.75" },
      },
      { group, name: "workerd batch request p99", value: wBatch.p99, unit: "ms", better: "lower" },
      {
        group,
        name: `workerd p99 at ${OFFERED_RATE} events/s offered`,
        value: wOffered.p99,
        unit: "ms",
        better: "lower",
        note: `p50 ${wOffered.p50} ms, achieved ${Math.round(wOffered.rate)}/s; goal < 10 ms`,
      },
      { group, name: `workerd trivial route p99 at ${OFFERED_RATE} req/s offered (HTTP floor)`, value: tOffered.p99, unit: "ms", better: "lower", note: `p50 ${tOffered.p50} ms` },
      {
        group,
        name: `direct Node → JetStream R3 ack p99 at ${OFFERED_RATE} msg/s (broker floor)`,
        value: directOffered.p99Ms,
        unit: "ms",
        better: "lower",
        note: `p50 ${directOffered.p50Ms.toFixed(2)} ms`,
      },
      { group, name: `direct Node → JetStream R3, ${CONNECTIONS} in flight`, value: direct10.rate, unit: "msg/s", better: "higher", note: `p99 ${direct10.p99Ms.toFixed(2)} ms` },
      {
        group,
        name: `workerd single events vs direct publish (${CONNECTIONS} in flight)`,
        value: wSingle.rate,
        unit: "events/s",
        better: "higher",
        ratio: { against: `direct Node publish, ${CONNECTIONS} in flight`, value: wSingle.rate / direct10.rate },
      },
      { group, name: `direct Node → JetStream R3, ${BATCH_SIZE * BATCH_CONNECTIONS} in flight`, value: directBatch.rate, unit: "msg/s", better: "higher" },
      { group, name: `Node edge trivial route GET /livez (c=${CONNECTIONS})`, value: nTrivial.rate, unit: "req/s", better: "higher" },
      {
        group,
        name: `Node edge POST /v1/events/{type} (${c})`,
        value: nSingle.rate,
        unit: "events/s",
        better: "higher",
        ratio: { against: "hand-written node:http + ajv + JetStream", value: nSingle.rate / pSingle.rate, goal: "≥ 1.0" },
        note: `p50 ${nSingle.p50} ms, p99 ${nSingle.p99} ms`,
      },
      { group, name: `hand-written node:http + ajv + JetStream (${c})`, value: pSingle.rate, unit: "events/s", better: "higher", note: `p50 ${pSingle.p50} ms, p99 ${pSingle.p99} ms` },
      {
        group,
        name: `Node edge batch POST /v1/events (${b})`,
        value: nBatch.rate * BATCH_SIZE,
        unit: "events/s",
        better: "higher",
        ratio: { against: `direct Node publish, ${BATCH_SIZE * BATCH_CONNECTIONS} in flight`, value: (nBatch.rate * BATCH_SIZE) / directBatch.rate },
      },
      { group, name: "non-2xx or failed requests over all measured phases", value: errors, unit: "requests", better: "lower" },
    );
    return rows;
  } finally {
    await Promise.allSettled(children.map(stopChild));
    await edge?.stop().catch(() => undefined);
    await broker.stop();
  }
}

// ---- child servers -------------------------------------------------------------------------

async function serveEdge(args: { servers: string[]; registryDir: string; apiKeys: never; vars: Record<string, string> }) {
  const { startNodeEdge } = await import("../worker/entry-node.ts");
  const running = await startNodeEdge({ port: await freePort(), natsServers: args.servers, registryDir: args.registryDir, apiKeys: args.apiKeys, vars: args.vars });
  process.once("SIGTERM", () => void running.stop().finally(() => process.exit(0)));
  console.log(`READY ${running.url}`);
}

/**
 * The peer: what a user might write instead of the edge — node:http, the same standalone
 * validator, one JetStream connection, a bearer check, 202 after the ack.
 */
async function servePeer(args: { servers: string[]; registryDir: string }) {
  const registry = await loadRegistry(args.registryDir);
  const validate = registry.validators["order.created/v2"]!;
  const nc = await connect({ servers: args.servers });
  const js = jetstream(nc);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const fail = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
      };
      if (req.headers.authorization !== `Bearer ${DEV_API_KEY}`) return fail(401, { error: "unauthorized" });
      let data: unknown;
      try {
        data = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        return fail(400, { error: "bad json" });
      }
      if (!validate(data)) return fail(422, { errors: validate.errors });
      const id = randomUUID();
      const h = natsHeaders();
      h.set("ce-id", id);
      h.set("ce-type", "order.created");
      try {
        const ack = await js.publish("events.order.created", Buffer.concat(chunks), { msgID: id, headers: h });
        fail(202, { id, type: "order.created", seq: ack.seq, duplicate: ack.duplicate });
      } catch {
        fail(503, { error: "unavailable" });
      }
    });
  });
  const port = await freePort();
  server.listen(port, "127.0.0.1", () => console.log(`READY http://127.0.0.1:${port}`));
  process.once("SIGTERM", () => {
    server.close();
    void nc.close().finally(() => process.exit(0));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [mode, json] = process.argv.slice(2);
  const args = JSON.parse(json ?? "{}");
  if (mode === "serve-edge") await serveEdge(args);
  else if (mode === "serve-peer") await servePeer(args);
}
