// One fault run, end to end: a 3-node cluster, two bridges and the edge in their own processes,
// four subscribers (healthy, failing, hanging, throttling), a steady load of unique events while
// the chaos loop kills and restarts things, then the ledgers compared. Used by the bounded run in
// `npm test` and the long one in `npm run test:faults`; sizes come from FaultRunOptions.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { jetstreamManager } from "@nats-io/jetstream";
import { eventSubject } from "../../broker/index.ts";
import { DEV_API_KEY } from "../../worker/index.ts";
import { listAttempts } from "../../bridge/index.ts";
import { startTestBroker, type TestBroker } from "../harness/nats.ts";
import type { EdgeRuntime } from "../harness/worker.ts";
import { addSubscription, waitUntil, SECRET_A } from "../bridge/helpers.ts";
import { runChaos, restartWithRetries, type ChaosStats } from "./chaos.ts";
import { LoadDriver } from "./load.ts";
import { compare, readStored, type Verdict } from "./ledger.ts";
import { killChild, startChild, stopAllChildren, type ChildService, type ChildSpec } from "./processes.ts";
import { startFaultReceiver, type Behaviour, type FaultReceiver, type ReceiverTuning } from "./receivers.ts";

export interface FaultRunOptions {
  runtime: EdgeRuntime;
  registryDir: string;
  natsKills: number;
  ratePerSecond: number;
  log: (line: string) => void;
}

export interface FaultRunResult extends Verdict {
  chaos: ChaosStats;
  elapsedMs: number;
}

const TYPE = "order.created";
const BRIDGE_CHILD = fileURLToPath(new URL("../bridge/fixtures/bridge-child.ts", import.meta.url));
const EDGE_CHILD = fileURLToPath(new URL("./fixtures/edge-child.ts", import.meta.url));
/** The subscribers' HTTP timeout and retry schedule: short, so failures reach the DLQ in a run. */
const TIMEOUT_MS = 400;
const SCHEDULE = ["20ms", "50ms", "100ms"];
const TUNING: ReceiverTuning = { timeoutMs: TIMEOUT_MS, failShare: 0.4, throttleMs: 1500, throttleEveryMs: 5000 };
const BEHAVIOURS: Behaviour[] = ["healthy", "failing", "hanging", "throttling"];
/** How many times a crashed restart is tried again before the run fails. */
const RESTART_TRIES = 5;
const START_TIMEOUT_MS = 60_000;

/** Everything a run started, stopped by PID whatever happened (call from t.after()). */
export class RunResources {
  broker: TestBroker | undefined;
  receivers: FaultReceiver[] = [];
  load: LoadDriver | undefined;
  /** The children's logs (bridges.log, edge.log); kept when the run did not pass. */
  dir = mkdtempSync(join(tmpdir(), "jetgate-faults-"));
  passed = false;
  readonly abort = new AbortController();

  async cleanup(log: (line: string) => void = () => undefined): Promise<void> {
    this.abort.abort();
    await this.load?.stop().catch(() => undefined);
    await stopAllChildren();
    await Promise.allSettled(this.receivers.map((r) => r.receiver.stop()));
    await this.broker?.stop().catch(() => undefined);
    if (this.passed) rmSync(this.dir, { recursive: true, force: true });
    else log(`logs of the bridges and the edge kept in ${this.dir}`);
  }
}

export async function runFaults(opts: FaultRunOptions, res: RunResources): Promise<FaultRunResult> {
  const started = Date.now();
  const { log } = opts;
  const source = `/jetgate-faults/${opts.runtime}-${started}`;
  const broker = (res.broker = await startTestBroker({ nodes: 3 }));
  const nc = await broker.connect();

  const subscribers: Array<{ id: string; rx: FaultReceiver }> = [];
  for (const behaviour of BEHAVIOURS) {
    const rx = await startFaultReceiver(behaviour, TUNING);
    res.receivers.push(rx);
    const id = `faults-${behaviour}`;
    await addSubscription(nc, {
      id,
      url: rx.receiver.url,
      filter: eventSubject(TYPE),
      secret: SECRET_A,
      timeout: `${TIMEOUT_MS}ms`,
      ackWait: "1500ms",
      retry: { schedule: SCHEDULE, jitter: 0.2 },
      startAt: "all",
    });
    subscribers.push({ id, rx });
  }

  const bridgeSpec = (name: string): ChildSpec => ({
    name: `bridge-${name}`,
    script: BRIDGE_CHILD,
    options: { servers: broker.servers, port: 0, ssrfAllow: ["127.0.0.1"], logLevel: "warn", instance: name, maxRetryAfterMs: 1000, shutdownDeadlineMs: 2000, taskAckWaitMs: 1500 },
    logFile: join(res.dir, "bridges.log"),
    readyTimeoutMs: START_TIMEOUT_MS,
  });
  const edgeSpec: ChildSpec = {
    name: `edge-${opts.runtime}`,
    script: EDGE_CHILD,
    options: { runtime: opts.runtime, broker: { servers: broker.servers, websocketUrls: broker.websocketUrls }, registryDir: opts.registryDir },
    logFile: join(res.dir, "edge.log"),
    readyTimeoutMs: START_TIMEOUT_MS,
  };
  const bridges: ChildService[] = [await startChild(bridgeSpec("a")), await startChild(bridgeSpec("b"))];
  let edge = await startChild(edgeSpec);
  log(`${opts.runtime}: edge ${edge.url} (pid ${edge.servingPid}), bridges ${bridges.map((b) => b.pid).join(", ")}`);

  const load = (res.load = new LoadDriver({
    url: () => edge.url,
    apiKey: DEV_API_KEY,
    source,
    type: TYPE,
    idPrefix: `evt-${opts.runtime}`,
    ratePerSecond: opts.ratePerSecond,
    invalidEvery: 25,
    // Longer than the edge's publish timeout (5 s), so its own 503 arrives before we give up.
    requestTimeoutMs: 8000,
    maxInFlight: 200,
    // The duplicate window is 2 min; retrying later would rightly store the event a second time.
    retryWithinMs: 90_000,
    retryDelayMs: 500,
  }));
  load.start();

  let nextBridge = 0;
  const chaos = await runChaos({
    broker,
    natsKills: opts.natsKills,
    bridgeEvery: 3,
    edgeEvery: 4,
    downMs: [300, 2000],
    pauseMs: [500, 2000],
    // A restarted node catches up on every stream and durable before /healthz says ok. Since the
    // fan-out (issue 13) each delivery is also a task write and a task ack on R3, and twice (once
    // with other suites beside it, once in a clean CI run) a node was not current within 90 s.
    // Not explained yet (see the issue-13 note): the deadline is what a whole-cluster recovery
    // gets (DESIGN decision 15), and the run still asserts that nothing accepted is lost.
    healthyTimeoutMs: 180_000,
    signal: res.abort.signal,
    log,
    killBridge: async (stats) => {
      const slot = nextBridge++ % bridges.length;
      const name = slot === 0 ? "a" : "b";
      await killChild(bridges[slot]!);
      bridges[slot] = await restartWithRetries("bridge", stats, RESTART_TRIES, () => startChild(bridgeSpec(name)), log);
    },
    killEdge: async (stats) => {
      await killChild(edge);
      edge = await restartWithRetries("edge", stats, RESTART_TRIES, () => startChild(edgeSpec), log);
    },
  });
  // A little quiet load after the last fault, then stop and let the unknowns settle.
  await new Promise((r) => setTimeout(r, 2000));
  await load.stop();
  await load.settle(60_000);

  // Every subscription drained: every event fanned out, and no task left (WQ: a task is gone once
  // delivered or dead-lettered), so nothing pending, waiting for an ack or waiting for a retry.
  const jsm = await jetstreamManager(nc);
  let last = "";
  await waitUntil("every event fanned out and every subscription's tasks done", 180_000, async () => {
    const durables = [["EVENTS", "jetgate_fanout"], ["JETGATE_TASKS", "jetgate_deliveries"]] as const;
    const infos = await Promise.all(durables.map(([stream, name]) => jsm.consumers.info(stream, name).catch(() => null)));
    const tasks = await jsm.streams.info("JETGATE_TASKS").then((i) => i.state.messages, () => null);
    last = infos.map((i, n) => `${durables[n]![1]}: ${i ? `${i.num_pending} pending, ${i.num_ack_pending} unacked` : "no info"}`).join("; ") + `; tasks stored: ${tasks}`;
    return tasks === 0 && infos.every((i) => i !== null && i.num_pending === 0 && i.num_ack_pending === 0);
  }).catch((err: Error) => {
    throw new Error(`${err.message} (${last})`);
  });

  const stored = await readStored(nc, eventSubject(TYPE), source);
  const verdict = compare(load, source, stored, subscribers);
  verdict.counts.loadSkipped = load.skipped;
  // What the attempt log holds for a dead letter that went out without history, and for an event
  // that was lost (neither delivered nor dead-lettered): the evidence of where its chain stopped.
  for (const { subscription, eventId } of [...verdict.bareDeadLetters.slice(0, 5), ...verdict.missing.slice(0, 5)]) {
    const attempts = await listAttempts(nc, { subscription, eventId }).catch((err: Error) => err);
    const seen = attempts instanceof Error ? `unreadable: ${attempts.message}` : attempts.map((a) => `#${a.attempt} ${a.status || a.error} ${a.outcome} ${a.at}`).join(", ");
    verdict.failures.push(`${subscription} ${eventId}: attempt log now holds [${seen}]`);
  }
  return { ...verdict, chaos, elapsedMs: Date.now() - started };
}

/** The run's figures, one line each, for the test output. */
export function report(runtime: EdgeRuntime, r: FaultRunResult): string[] {
  return [
    `fault run (${runtime}): ${(r.elapsedMs / 1000).toFixed(1)} s, kills ${JSON.stringify(r.chaos.kills)}, failed restarts ${JSON.stringify(r.chaos.failedRestarts)}, slowest recovery ${r.chaos.slowestRecoveryMs} ms`,
    ...Object.entries(r.counts).map(([k, v]) => `  ${k}: ${v}`),
    ...r.chaos.notes.map((n) => `  note: ${n}`),
    ...r.failures.map((f) => `  FAILURE: ${f}`),
  ];
}
