// Ingest through the edge, side by side with its limits and peers, all in one run on one 3-node
// R3 cluster:
//   workerd: trivial route (the HTTP floor), single events, batches, p99 at 500 events/s offered
//            (open loop, with the trivial route and direct publishing at that rate as its floors),
//            against direct Node publishing into the same cluster (the physical limit);
//   Node:    the same edge on @hono/node-server, beside a minimal hand-written
//            node:http + ajv standalone + JetStream server (what a user would write instead).
// The Node servers run in child processes (bench/servers.ts) so they do not share a thread with
// the load generator. Everything is stopped at the end, even on failure. Figures only: nothing
// here asserts a timing.
import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { jetstream } from "@nats-io/jetstream";
import { eventSubject } from "../broker/index.ts";
import { Agent } from "undici";
import { startTestBroker } from "../test/harness/nats.ts";
import { writeTestRegistry, VALID_ORDER_V2 } from "../test/edge/fixtures.ts";
import { startEdgeWorkerd } from "../worker/dev/index.ts";
import { DEV_API_KEY, devApiKeys } from "../worker/auth/keys.ts";
import { measureDirectPublish, measurePacedPublish } from "./direct-publish.ts";
import { paced } from "./paced.ts";
import { startServer, stopChild } from "./servers.ts";
import { percentile, type BenchContext, type BenchRow } from "./lib.ts";

// autocannon ships no types; this is the part of its API used here.
interface LoadOptions {
  url: string;
  connections?: number;
  duration: number;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  requests?: Array<{ setupRequest: (req: Record<string, unknown>) => Record<string, unknown> }>;
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

function singleRequest(url: string, seconds: number): Promise<Load> {
  return load({
    url: `${url}/v1/events/order.created`,
    method: "POST",
    headers: { ...AUTH, "content-type": "application/json" },
    body: JSON.stringify(DATA),
    duration: seconds,
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

/**
 * Open loop at `rate` requests a second (bench/paced.ts), each request timed from its due start.
 * The agent's pool is far larger than the requests in flight at these rates, so no request waits
 * for a connection.
 */
async function offered(url: string, path: "/v1/events/order.created" | "/livez", rate: number, seconds: number): Promise<Load> {
  const agent = new Agent({ connections: 64 });
  const body = JSON.stringify(DATA);
  try {
    const run = await paced(rate, seconds, async () => {
      const res = await agent.request(
        path === "/livez"
          ? { origin: url, path, method: "GET" }
          : { origin: url, path, method: "POST", headers: { ...AUTH, "content-type": "application/json" }, body, headersTimeout: 10_000 },
      );
      await res.body.dump();
      if (res.statusCode >= 300) throw new Error(`status ${res.statusCode}`);
    });
    return { rate: run.rate, p50: percentile(run.latencies, 50), p99: percentile(run.latencies, 99), errors: run.failures };
  } finally {
    await agent.close();
  }
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
    const wOffered = await offered(edge.url, "/v1/events/order.created", OFFERED_RATE, s);
    // The floors of that latency: the same rate on the trivial route, and published directly.
    const tOffered = await offered(edge.url, "/livez", OFFERED_RATE, s);
    const directOffered = await measurePacedPublish(js, { subject: eventSubject("order.created"), payload, rate: OFFERED_RATE, seconds: s });
    ctx.progress(`ingest: direct Node publishing, ${CONNECTIONS} and ${BATCH_SIZE * BATCH_CONNECTIONS} in flight, ${s}s each`);
    const direct10 = await measureDirectPublish(js, { subject: eventSubject("order.created"), payload, inFlight: CONNECTIONS, seconds: s });
    const directBatch = await measureDirectPublish(js, {
      subject: eventSubject("order.created"),
      payload,
      inFlight: BATCH_SIZE * BATCH_CONNECTIONS,
      seconds: s,
    });

    await edge.stop();
    edge = undefined;

    ctx.progress("ingest: starting the Node edge and the hand-written peer (child processes)");
    const nodeEdge = await startServer("serve-edge", { servers: broker.servers, registryDir, apiKeys, vars: VARS });
    children.push(nodeEdge.proc);
    await singleRequest(nodeEdge.url, Math.min(2, s));
    ctx.progress(`ingest: Node edge trivial, single, batch for ${s}s each`);
    const nTrivial = await trivial(nodeEdge.url, s);
    const nSingle = await singleRequest(nodeEdge.url, s);
    const nBatch = await batchRequest(nodeEdge.url, s);
    await stopChild(nodeEdge.proc);

    const peer = await startServer("serve-peer", { servers: broker.servers, registryDir });
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
        note: `open loop; p50 ${wOffered.p50.toFixed(2)} ms, achieved ${Math.round(wOffered.rate)}/s; goal < 10 ms`,
      },
      { group, name: `workerd trivial route p99 at ${OFFERED_RATE} req/s offered (HTTP floor)`, value: tOffered.p99, unit: "ms", better: "lower", note: `open loop; p50 ${tOffered.p50.toFixed(2)} ms` },
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
