// Subscriptions at scale (issue 13, DESIGN decision 16): what N subscriptions cost on the 3-node
// cluster with the bridge as its own process, created through the admin API as a user would.
//  - create N subscriptions (bounded concurrency) and time it; one event published right after
//    matches all of them (they start at the bench's start time), so the time until each endpoint
//    got it is the time until that subscription was active;
//  - nats-server RSS and idle CPU per node before and after;
//  - one event matching all N, delivered to all: p50/p99 from publish;
//  - the same with 10% of the endpoints dead (half hang past the timeout, half answer 503): the
//    healthy endpoints' p50/p99 beside the run with none dead;
//  - the bridge restarted: time from its launch until every subscription delivered again.
// N: JETGATE_BENCH_SUBSCRIPTIONS (default 50). Every wait is bounded; what did not arrive in time
// is reported as a figure and a note, never waited for. Servers are stopped by PID in `finally`.
import type { ChildProcess } from "node:child_process";
import { loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { nuid } from "@nats-io/nats-core";
import { jetstream } from "@nats-io/jetstream";
import { startTestBroker, type TestBroker } from "../test/harness/nats.ts";
import { freePort } from "../test/harness/ports.ts";
import { startReceiver, type Receiver } from "../test/harness/receiver.ts";
import { buildBridgeBundle } from "../bridge/dev/index.ts";
import { spawnBridge } from "./bridge-process.ts";
import { edgeStyleEvent, publishEdgeStyle } from "../test/harness/events.ts";
import { webhookIdOf } from "../broker/index.ts";
import { percentile, type BenchContext, type BenchRow } from "./lib.ts";
import { cpuMs, machineCpuMs, rssMb } from "./proc.ts";
import { stopChild } from "./servers.ts";

const group = "subscriptions";
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ADMIN_TOKEN = "bench-admin-token";
const TYPE = "bench.scale";
const SOURCE = "/bench/scale";
const RECEIVER_PORTS = 4;
const CREATE_CONCURRENCY = Number(process.env.JETGATE_BENCH_CREATE_CONCURRENCY ?? 16);
/** Endpoint timeout of every subscription: a hanging endpoint is cut after this. */
const TIMEOUT = "5s";
const IDLE_SECONDS = 5;

/** The issue's goals, printed beside the figures. */
const GOALS = {
  active: "10,000 active within 60 s of creation",
  restart: "after a bridge restart all deliver within 30 s",
  rss: "nats-server RSS < 100 MB per node at 10,000",
  fanout: "one event to 1,000: p99 < 2 s",
  isolation: "healthy p99 with 10% dead within 1.5× of none dead",
};

interface Arrivals {
  /** `${subscription}|${webhook-id}` → Date.now() at arrival. */
  at: Map<string, number>;
  /** Subscriptions whose endpoint hangs or fails. */
  dead: Map<string, "hang" | "fail">;
}

function startReceivers(arrivals: Arrivals): Promise<Receiver[]> {
  return Promise.all(
    Array.from({ length: RECEIVER_PORTS }, () =>
      startReceiver({
        record: false,
        script: (req) => {
          const sub = req.path.split("/")[2] ?? "";
          const key = `${sub}|${req.headers["webhook-id"]}`;
          const dead = arrivals.dead.get(sub);
          if (dead === "hang") return { status: 200, delayMs: 60_000 };
          if (dead === "fail") return { status: 503 };
          if (!arrivals.at.has(key)) arrivals.at.set(key, req.at);
          return { status: 204 };
        },
      }),
    ),
  );
}

async function waitHttp(url: string, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`bridge ${child.pid} exited with ${child.exitCode}`);
    if (await fetch(url, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false)) return;
    await sleep(100);
  }
  throw new Error(`${url} not ready in ${timeoutMs}ms`);
}

/** The bridge as `jetgate bridge` runs it (bench/bridge-process.ts), with this bench's admin token. */
function startBridge(bundle: string, servers: string[], port: number): ChildProcess {
  return spawnBridge(bundle, servers, port, { JETGATE_BRIDGE_ADMIN_TOKEN: ADMIN_TOKEN, JETGATE_BRIDGE_LOG_LEVEL: "error" });
}

/** Runs `task(i)` for i < n with at most `limit` in flight; each result or error by index. */
async function bounded<T>(n: number, limit: number, task: (i: number) => Promise<T>): Promise<Array<{ ok: true; value: T } | { ok: false; error: string }>> {
  const out: Array<{ ok: true; value: T } | { ok: false; error: string }> = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) {
        const i = next++;
        try {
          out[i] = { ok: true, value: await task(i) };
        } catch (err) {
          out[i] = { ok: false, error: (err as Error).message };
        }
      }
    }),
  );
  return out;
}

/** Waits until `done()` or `timeoutMs`; a progress line every 5 s. Returns whether done. */
async function waitBounded(ctx: BenchContext, what: string, timeoutMs: number, count: () => number, total: number): Promise<boolean> {
  const start = Date.now();
  let lastLine = start;
  while (count() < total) {
    if (Date.now() - start > timeoutMs) {
      ctx.progress(`${group}: ${what}: ${count()} of ${total} after ${Math.round(timeoutMs / 1000)} s: giving up`);
      return false;
    }
    if (Date.now() - lastLine > 5_000) {
      lastLine = Date.now();
      ctx.progress(`${group}: ${what}: ${count()} of ${total} after ${Math.round((Date.now() - start) / 1000)} s`);
    }
    await sleep(20);
  }
  return true;
}

interface NodeReading {
  rss: number[];
  /** CPU of each node while idle, as a % of one core. */
  idleCpu: number[];
}

async function readNodes(broker: TestBroker): Promise<NodeReading> {
  const pids = broker.nodes.map((n) => n.pid);
  const before = pids.map(cpuMs);
  await sleep(IDLE_SECONDS * 1000);
  const idleCpu = pids.map((pid, i) => ((cpuMs(pid) - before[i]!) / (IDLE_SECONDS * 1000)) * 100);
  return { rss: pids.map(rssMb), idleCpu };
}

const fmtList = (xs: number[], digits = 1) => xs.map((x) => x.toFixed(digits)).join(" / ");

export default async function subscriptionsBench(ctx: BenchContext): Promise<BenchRow[]> {
  const n = Number(process.env.JETGATE_BENCH_SUBSCRIPTIONS ?? 50);
  // Bounds, scaled with N on today's design (~1 s per subscription to become active).
  const activeTimeoutMs = Number(process.env.JETGATE_BENCH_ACTIVE_TIMEOUT_MS ?? Math.max(60_000, n * 2_000));
  const deliverTimeoutMs = 60_000;
  const rows: BenchRow[] = [];
  const arrivals: Arrivals = { at: new Map(), dead: new Map() };
  const receivers = await startReceivers(arrivals);
  const machineStart = machineCpuMs();
  const loadStart = loadavg()[0]!;
  const wallStart = Date.now();
  let broker: TestBroker | undefined;
  let bridge: ChildProcess | undefined;
  const ownPids = (): number[] => [process.pid, ...(broker?.nodes.map((x) => x.pid) ?? []), ...(bridge?.pid ? [bridge.pid] : [])];
  const selfCpuStart = cpuMs(process.pid);
  const ownCpuEnd = new Map<number, number>();
  const trackCpu = () => {
    for (const pid of ownPids()) {
      const ms = cpuMs(pid);
      if (Number.isFinite(ms)) ownCpuEnd.set(pid, ms);
    }
  };
  const cpuTracker = setInterval(trackCpu, 500);
  try {
    ctx.progress(`${group}: N = ${n}; starting a 3-node cluster and the bridge`);
    const bundle = await buildBridgeBundle();
    broker = await startTestBroker({ nodes: 3 });
    const port = await freePort();
    const admin = `http://127.0.0.1:${port}`;
    bridge = await startBridge(bundle, broker.servers, port);
    await waitHttp(`${admin}/readyz`, 30_000, bridge);
    const nc = await broker.connect();
    const js = jetstream(nc);
    const publish = async (): Promise<{ webhookId: string; at: number }> => {
      const id = `evt_${nuid.next()}`;
      const at = Date.now();
      await publishEdgeStyle(js, edgeStyleEvent(id, TYPE, SOURCE, new TextEncoder().encode(JSON.stringify({ n: 1 }))));
      return { webhookId: webhookIdOf(SOURCE, id), at };
    };
    const ids = Array.from({ length: n }, (_, i) => `scale-${i}`);
    const got = (webhookId: string, subs: string[] = ids) => subs.filter((s) => arrivals.at.has(`${s}|${webhookId}`)).length;
    const lat = (ev: { webhookId: string; at: number }, subs: string[]) => subs.flatMap((s) => {
      const t = arrivals.at.get(`${s}|${ev.webhookId}`);
      return t === undefined ? [] : [t - ev.at];
    });

    ctx.progress(`${group}: nats-server idle before (${IDLE_SECONDS} s)`);
    const before = await readNodes(broker);

    // ---------- create N through the admin API ----------
    const startAt = new Date().toISOString();
    ctx.progress(`${group}: creating ${n} subscriptions through the admin API (${CREATE_CONCURRENCY} in flight)`);
    const t0 = Date.now();
    const created = await bounded(n, CREATE_CONCURRENCY, async (i) => {
      const res = await fetch(`${admin}/v1/subscriptions`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({
          id: ids[i],
          url: receivers[i % RECEIVER_PORTS]!.url.replace(/\/webhooks$/, `/s/${ids[i]}`),
          filter: `events.${TYPE}`,
          secret: SECRET,
          startAt: { time: startAt },
          timeout: TIMEOUT,
          retry: { schedule: ["5s", "30s"], jitter: 0.2 },
        }),
        signal: AbortSignal.timeout(30_000),
      });
      if (res.status !== 201) throw new Error(`POST /v1/subscriptions answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
      await res.body?.cancel();
    });
    const createMs = Date.now() - t0;
    const createFailed = created.filter((r) => !r.ok);
    rows.push({
      group,
      name: `create ${n} subscriptions through the admin API (${CREATE_CONCURRENCY} in flight)`,
      value: createMs / 1000,
      unit: "s",
      better: "lower",
      note: `${(createMs / n).toFixed(1)} ms each${createFailed.length ? `; ${createFailed.length} failed: ${(createFailed[0] as { error: string }).error}` : ""}`,
    });

    // ---------- until each delivered the first event ----------
    const first = await publish();
    ctx.progress(`${group}: waiting for each subscription's first delivery (at most ${Math.round(activeTimeoutMs / 1000)} s)`);
    await waitBounded(ctx, "active", activeTimeoutMs, () => got(first.webhookId), n);
    const firstLat = lat(first, ids).map((ms) => ms + (first.at - t0));
    const active = firstLat.length;
    const allActiveS = active === n ? Math.max(...firstLat) / 1000 : Number.NaN;
    rows.push(
      {
        group,
        name: `creation start → all ${n} delivered a first event`,
        value: allActiveS,
        unit: "s",
        better: "lower",
        note: `${active}/${n} active within ${Math.round(activeTimeoutMs / 1000)} s; p50 ${(percentile(firstLat, 50) / 1000).toFixed(1)} s; ${(active ? Math.max(...firstLat) / active : NaN).toFixed(0)} ms per subscription; goal: ${GOALS.active}`,
      },
    );

    await sleep(2_000);
    ctx.progress(`${group}: nats-server idle after (${IDLE_SECONDS} s)`);
    const after = await readNodes(broker);
    const perSubKb = broker.nodes.map((_, i) => ((after.rss[i]! - before.rss[i]!) * 1024) / n);
    rows.push(
      { group, name: "nats-server RSS per node, before (0 subscriptions)", value: Math.max(...before.rss), unit: "MB", better: "lower", note: `nodes ${fmtList(before.rss)} MB` },
      {
        group,
        name: `nats-server RSS per node, after (${n} subscriptions)`,
        value: Math.max(...after.rss),
        unit: "MB",
        better: "lower",
        note: `nodes ${fmtList(after.rss)} MB; ${fmtList(perSubKb, 0)} KB per subscription; goal: ${GOALS.rss}`,
      },
      { group, name: "nats-server idle CPU per node, before", value: Math.max(...before.idleCpu), unit: "% of a core", better: "lower", note: `nodes ${fmtList(before.idleCpu, 2)} %` },
      { group, name: `nats-server idle CPU per node, after (${n} subscriptions)`, value: Math.max(...after.idleCpu), unit: "% of a core", better: "lower", note: `nodes ${fmtList(after.idleCpu, 2)} %` },
    );

    // ---------- fan-out: one event to all N, none dead, then 10% dead ----------
    // Events 1.5 s apart, so a dead endpoint's hung attempts (5 s timeout) and retries (5 s)
    // overlap the healthy endpoints' deliveries of the next events.
    const EVENTS = 5;
    const fanout = async (label: string, subs: string[]): Promise<number[]> => {
      const events: Array<{ webhookId: string; at: number }> = [];
      for (let e = 0; e < EVENTS; e++) {
        if (e > 0) await sleep(1_500);
        events.push(await publish());
      }
      const all = () => events.reduce((sum, ev) => sum + got(ev.webhookId, subs), 0);
      await waitBounded(ctx, `${label}: ${EVENTS} events`, deliverTimeoutMs, all, EVENTS * subs.length);
      const samples = events.flatMap((ev) => lat(ev, subs));
      const missing = EVENTS * subs.length - samples.length;
      rows.push(
        { group, name: `one event → ${subs.length} endpoints, p50 from publish (${label})`, value: percentile(samples, 50), unit: "ms", better: "lower", note: `${EVENTS} events 1.5 s apart; ${samples.length}/${EVENTS * subs.length} delivered within ${deliverTimeoutMs / 1000} s${missing ? `; ${missing} MISSING` : ""}` },
        { group, name: `one event → ${subs.length} endpoints, p99 from publish (${label})`, value: percentile(samples, 99), unit: "ms", better: "lower", note: `max ${Math.max(...samples)} ms; goal: ${GOALS.fanout}` },
      );
      return samples;
    };
    if (active === 0) throw new Error("no subscription became active: skipping the delivery phases");
    ctx.progress(`${group}: fan-out, none dead`);
    const healthyAll = await fanout("none dead", ids);
    const deadCount = Math.max(1, Math.round(n / 10));
    // Spread over the receivers: every 10th subscription, alternately hanging and failing.
    const deadIds = ids.filter((_, i) => i % 10 === 5).slice(0, deadCount);
    deadIds.forEach((id, i) => arrivals.dead.set(id, i % 2 === 0 ? "hang" : "fail"));
    const healthy = ids.filter((id) => !arrivals.dead.has(id));
    ctx.progress(`${group}: fan-out, ${deadIds.length} of ${n} endpoints dead (half hang ${TIMEOUT}+, half 503)`);
    const withDead = await fanout(`${deadIds.length} of ${n} dead`, healthy);
    const ratioP99 = percentile(withDead, 99) / percentile(healthyAll, 99);
    rows.push({
      group,
      name: `healthy endpoints' p99, ${deadIds.length} of ${n} dead vs none dead`,
      value: ratioP99,
      unit: "×",
      better: "lower",
      ratio: { against: "none dead", value: ratioP99, goal: "≤ 1.5×" },
      note: `goal: ${GOALS.isolation}`,
    });
    arrivals.dead.clear();

    // ---------- bridge restart: launch → every subscription delivered again ----------
    ctx.progress(`${group}: restarting the bridge`);
    await stopChild(bridge);
    const ev = await publish();
    const launchedAt = Date.now();
    bridge = await startBridge(bundle, broker.servers, port);
    const restartTimeoutMs = Math.max(60_000, n * 1_000);
    const restarted = await waitBounded(ctx, "after restart", restartTimeoutMs, () => got(ev.webhookId), n);
    const afterRestart = lat(ev, ids).map((ms) => ms - (launchedAt - ev.at));
    rows.push({
      group,
      name: `bridge restart: launch → all ${n} delivered again`,
      value: restarted ? Math.max(...afterRestart) / 1000 : Number.NaN,
      unit: "s",
      better: "lower",
      note: `${afterRestart.length}/${n} within ${restartTimeoutMs / 1000} s; p50 ${(percentile(afterRestart, 50) / 1000).toFixed(1)} s; the event was published while the bridge was down; goal: ${GOALS.restart}`,
    });

    // ---------- the whole stack restarted: 3 nodes, then the bridge ----------
    // What the issue saw take 20 s (or end in a start-up timeout): every Raft group elects again.
    ctx.progress(`${group}: restarting the whole stack (3 nodes, then the bridge)`);
    await stopChild(bridge);
    await Promise.all(broker.nodes.map((_, i) => broker!.stopNode(i)));
    const stackAt = Date.now();
    await Promise.all(broker.nodes.map((_, i) => broker!.startNode(i)));
    await broker.ready(60_000);
    const readyAt = Date.now();
    bridge = await startBridge(bundle, broker.servers, port);
    let stackEv: { webhookId: string; at: number } | undefined;
    let publishTries = 0;
    while (!stackEv && Date.now() - stackAt < 60_000) {
      publishTries++;
      stackEv = await publish().catch(async () => {
        await sleep(250);
        return undefined;
      });
    }
    if (!stackEv) throw new Error("after the stack restart, EVENTS took no publish within 60 s");
    const stackEvent = stackEv;
    const stackDone = await waitBounded(ctx, "after stack restart", restartTimeoutMs, () => got(stackEvent.webhookId), n);
    const afterStack = lat(stackEvent, ids).map((ms) => ms + (stackEvent.at - stackAt));
    const bridgeExit = bridge.exitCode !== null ? `; the bridge EXITED with ${bridge.exitCode}` : "";
    rows.push({
      group,
      name: `stack restart (3 nodes + bridge): nodes launched → all ${n} delivered again`,
      value: stackDone ? Math.max(...afterStack) / 1000 : Number.NaN,
      unit: "s",
      better: "lower",
      note: `${afterStack.length}/${n} within ${restartTimeoutMs / 1000} s; cluster ready after ${((readyAt - stackAt) / 1000).toFixed(1)} s, the publish that was stored sent after ${((stackEvent.at - stackAt) / 1000).toFixed(1)} s (${publishTries} tries)${bridgeExit}; not one of the issue's goals (those name a bridge restart), the issue's own observation`,
    });
  } catch (err) {
    ctx.progress(`${group}: failed: ${(err as Error).message}`);
    rows.push({ group, name: "subscriptions phases", value: Number.NaN, unit: "", better: "lower", note: `failed: ${(err as Error).message}` });
  } finally {
    clearInterval(cpuTracker);
    trackCpu();
    await stopChild(bridge).catch(() => undefined);
    await broker?.stop().catch(() => undefined);
    await Promise.allSettled(receivers.map((r) => r.stop()));
  }
  // How loaded the machine was: all CPU it spent, less what this bench's own processes spent.
  const machineEnd = machineCpuMs();
  const wallMs = Date.now() - wallStart;
  const ownMs = [...ownCpuEnd.values()].reduce((a, b) => a + b, 0) - selfCpuStart;
  const othersCores = (machineEnd.busy - machineStart.busy - ownMs) / wallMs;
  rows.push({
    group,
    name: "CPU of other processes on the machine during this bench",
    value: othersCores,
    unit: "cores",
    better: "lower",
    note: `machine busy ${((machineEnd.busy - machineStart.busy) / wallMs).toFixed(2)} cores, this bench's processes ${(ownMs / wallMs).toFixed(2)}, steal ${((machineEnd.steal - machineStart.steal) / wallMs).toFixed(2)}, over ${Math.round(wallMs / 1000)} s; 1-min load average ${loadStart.toFixed(2)} at start, ${loadavg()[0]!.toFixed(2)} at end`,
  });
  return rows;
}
