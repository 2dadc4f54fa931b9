// The chaos loop of a fault run: SIGKILL a random NATS node and start it again, over and over,
// and every few rounds also a bridge and the edge. Between rounds it waits until every node
// reports healthy (/healthz: JetStream's streams and consumers current), so each kill hits a
// cluster that had recovered — the loss of one node at a time that an R3 cluster promises to
// survive. Every wait is bounded and every restart is retried a bounded number of times; a
// restart that crashes is counted and its reason kept, not hidden.
import { setTimeout as sleep } from "node:timers/promises";
import type { TestBroker } from "../harness/nats.ts";
import { ChildStartError } from "./processes.ts";

export type FaultKind = "nats" | "bridge" | "edge";

export interface ChaosStats {
  kills: Record<FaultKind, number>;
  /** Restarts that failed and were tried again, by kind. */
  failedRestarts: Record<FaultKind, number>;
  /** What went wrong on those restarts (first line of the reason, and the child's last output). */
  notes: string[];
  /** Slowest recovery to a healthy cluster after a node restart. */
  slowestRecoveryMs: number;
}

export interface ChaosOptions {
  natsKills: number;
  /** A bridge is killed every `bridgeEvery` rounds, the edge every `edgeEvery` rounds. */
  bridgeEvery: number;
  edgeEvery: number;
  /** How long a killed part stays down, and the pause between rounds (random in [min, max]). */
  downMs: [number, number];
  pauseMs: [number, number];
  healthyTimeoutMs: number;
  killBridge: (stats: ChaosStats) => Promise<void>;
  killEdge: (stats: ChaosStats) => Promise<void>;
  broker: TestBroker;
  random?: () => number;
  log?: (line: string) => void;
  /** Set to stop after the current round (test cleanup). */
  signal?: AbortSignal;
}

export function emptyStats(): ChaosStats {
  return { kills: { nats: 0, bridge: 0, edge: 0 }, failedRestarts: { nats: 0, bridge: 0, edge: 0 }, notes: [], slowestRecoveryMs: 0 };
}

function between([min, max]: [number, number], random: () => number): number {
  return Math.round(min + random() * (max - min));
}

/** null when the node's /healthz says ok; else what it says instead (with details: which asset is not current). */
async function unhealthy(port: number): Promise<string | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz?details=true`, { signal: AbortSignal.timeout(2000) });
    return res.ok ? null : (await res.text()).slice(0, 600);
  } catch (err) {
    return `no answer (${(err as Error).message})`;
  }
}

/** Resolves once every node's /healthz says ok (JetStream assets current), or throws naming the laggards. */
export async function waitClusterHealthy(broker: TestBroker, timeoutMs: number): Promise<number> {
  const started = Date.now();
  let sick: string[] = [];
  while (Date.now() - started < timeoutMs) {
    const states = await Promise.all(broker.nodes.map((n) => unhealthy(n.ports.monitor)));
    // What each laggard last said, so a failure names the stream or consumer that was not current.
    sick = broker.nodes.flatMap((n, i) => (states[i] === null ? [] : [`${n.name}: ${states[i]}`]));
    if (sick.length === 0) return Date.now() - started;
    await sleep(200);
  }
  throw new Error(`cluster not healthy within ${timeoutMs}ms (unhealthy: ${sick.join("; ")})`);
}

/** SIGKILL one node; resolves once it is gone. */
export async function killNatsNode(broker: TestBroker, index: number): Promise<void> {
  const node = broker.nodes[index]!;
  const exited = new Promise<void>((resolve) => {
    if (node.process.exitCode !== null || node.process.signalCode !== null) resolve();
    else node.process.once("exit", () => resolve());
  });
  node.process.kill("SIGKILL");
  let timer: NodeJS.Timeout | undefined;
  const stuck = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`nats ${node.name} (pid ${node.pid}) still running 10s after SIGKILL`)), 10_000);
  });
  await Promise.race([exited, stuck]).finally(() => clearTimeout(timer));
}

/** Starts a killed node on its old store after `downMs`; resolves with how long the cluster took to be healthy. */
export async function reviveNatsNode(broker: TestBroker, index: number, downMs: number, healthyTimeoutMs: number): Promise<number> {
  await sleep(downMs);
  await broker.startNode(index);
  return waitClusterHealthy(broker, healthyTimeoutMs);
}

/** Starts something again until it comes up, at most `tries` times; each failure is noted. */
export async function restartWithRetries<T>(kind: FaultKind, stats: ChaosStats, tries: number, start: () => Promise<T>, log?: (line: string) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      stats.failedRestarts[kind]++;
      // The error line of the child's output (its stack follows it), else its last lines.
      const lines = err instanceof ChildStartError ? err.logTail.split("\n") : [];
      const errorLine = lines.find((l) => /^[A-Z]\w*Error\b/.test(l.trim())) ?? lines.slice(-3).join(" | ");
      const tail = errorLine ? ` — ${errorLine.trim()}` : "";
      const note = `${kind} restart ${attempt}/${tries} failed: ${(err as Error).message.split("\n")[0]}${tail}`;
      stats.notes.push(note);
      log?.(note);
      if (attempt >= tries) throw err;
      await sleep(1000 * attempt);
    }
  }
}

/**
 * Each round kills a random node; on its turn a bridge or the edge is killed and restarted in the
 * same window, while the node is down and the cluster re-elects leaders — the moment a restarting
 * part is most likely to trip over JetStream (issue 10, fault 1).
 */
export async function runChaos(opts: ChaosOptions): Promise<ChaosStats> {
  const stats = emptyStats();
  const random = opts.random ?? Math.random;
  for (let round = 1; round <= opts.natsKills; round++) {
    if (opts.signal?.aborted) break;
    const index = Math.floor(random() * opts.broker.nodes.length);
    await killNatsNode(opts.broker, index);
    stats.kills.nats++;
    const work: Array<Promise<unknown>> = [
      reviveNatsNode(opts.broker, index, between(opts.downMs, random), opts.healthyTimeoutMs).then((ms) => {
        stats.slowestRecoveryMs = Math.max(stats.slowestRecoveryMs, ms);
        opts.log?.(`round ${round}: killed nats n${index + 1}; cluster healthy ${ms}ms after its restart`);
      }),
    ];
    if (round % opts.bridgeEvery === 0) work.push(opts.killBridge(stats).then(() => void stats.kills.bridge++));
    if (round % opts.edgeEvery === 0) work.push(opts.killEdge(stats).then(() => void stats.kills.edge++));
    const results = await Promise.allSettled(work);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    await sleep(between(opts.pauseMs, random));
  }
  return stats;
}
