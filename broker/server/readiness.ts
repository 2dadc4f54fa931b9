// When nats-server nodes the launcher started are ready: every node accepts clients and, in a
// cluster, the JetStream meta leader could place a replicated stream. The wait repairs the one
// start-up fault of nats-server 2.10 that never heals by itself (see waitReady) and fails at once,
// naming why, when a node exits.
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { BrokerError } from "../errors.ts";

/** What the wait needs of a started node (the launcher's RunningNode has it all). */
export interface ReadyNode {
  name: string;
  ports: { monitor: number };
  process: ChildProcess;
  logFile: string;
}

/**
 * How long the meta leader may go without listing a running node as a current peer before that
 * node is restarted. On loopback a leader lists every peer within a second of its election, even
 * on a loaded box; a node unheard for longer is one whose Raft messages never leave it (waitReady).
 */
export const UNHEARD_NODE_GRACE_MS = 5_000;
/** Restarts of one node within one wait; past that the wait runs out its deadline and says why. */
const MAX_RESTARTS_PER_NODE = 2;

export interface ReadyOptions<N extends ReadyNode> {
  /** Restarts a node with its config and store, returning it with its new process. */
  restart?: (node: N) => Promise<N>;
  log?: (line: string) => void;
}

/**
 * Resolves once every node answers /healthz and, with two nodes or more, every node follows one
 * meta leader that lists each other node as a current peer (placementMissing).
 *
 * nats-server 2.10 (server/server.go setSystemAccount) starts the goroutine that sends every Raft
 * message of the server (server/sendq.go internalLoop) before it stores the system account, and the
 * goroutine registers its client with whatever SystemAccount() returns. When it runs first, the
 * client has no account and processInboundClientMsg drops each message silently, for the life of
 * the process. That node still receives: it follows the leader, answers /healthz and reports the
 * leader in /jsz. But it can neither vote nor answer, so the leader never adds it to the meta
 * group, shrinks the group to the peers it heard (raft.go adjustClusterSizeAndQuorum), and every
 * R3 stream is refused with "no suitable peers for placement" (10005) for as long as it runs.
 * Measured here: about one fresh 3-node cluster in 40 under load. 2.11 hands the account to the
 * queue (sendq.go newSendQ(acc)); for 2.10 the repair is to restart the unheard node, whose new
 * process is heard and added (restart). Without `restart` the wait only waits.
 */
export async function waitReady<N extends ReadyNode>(nodes: N[], timeoutMs: number, opts: ReadyOptions<N> = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const current = [...nodes];
  const restarts = new Map<string, number>();
  for (;;) {
    const names = await waitHealthy(current, deadline);
    if (current.length < 2) return;
    const canRestart = (node: N) => opts.restart !== undefined && (restarts.get(node.name) ?? 0) < MAX_RESTARTS_PER_NODE;
    const unheard = await waitPlacement(current, names, deadline, canRestart);
    if (unheard.length === 0) return;
    for (const node of unheard) {
      opts.log?.(`nats-server ${node.name}: the meta leader has not heard it for ${UNHEARD_NODE_GRACE_MS / 1000} s (its Raft messages are lost); restarting it`);
      restarts.set(node.name, (restarts.get(node.name) ?? 0) + 1);
      current[current.indexOf(node)] = await opts.restart!(node);
    }
  }
}

/** Waits for /healthz on each node; returns each node's server_name, the name it has in the meta group. */
async function waitHealthy(nodes: ReadyNode[], deadline: number): Promise<string[]> {
  const names: string[] = [];
  for (const node of nodes) {
    await waitFor(deadline, async () => {
      nodes.forEach(checkAlive);
      const res = await fetch(`http://127.0.0.1:${node.ports.monitor}/healthz?js-enabled-only=true`, { signal: AbortSignal.timeout(1000) });
      return res.ok ? null : `${node.name} to accept clients (healthz ${res.status}; see ${node.logFile})`;
    }, `${node.name} to accept clients (see ${node.logFile})`);
    const varz = await getJson<{ server_name?: string }>(node.ports.monitor, "/varz").catch(() => null);
    names.push(varz?.server_name ?? node.name);
  }
  return names;
}

/**
 * Waits until placementMissing finds nothing missing (returns []), or until one leader has left
 * nodes it may restart unlisted for UNHEARD_NODE_GRACE_MS (returns those nodes).
 */
async function waitPlacement<N extends ReadyNode>(nodes: N[], names: string[], deadline: number, canRestart: (node: N) => boolean): Promise<N[]> {
  let leaderSince = { leader: "", at: 0 };
  let unheard: N[] = [];
  await waitFor(deadline, async () => {
    nodes.forEach(checkAlive);
    const metas = await Promise.all(nodes.map((n) => getJson<{ meta_cluster?: MetaCluster }>(n.ports.monitor, "/jsz").then((j) => j?.meta_cluster ?? null)));
    const state = placementMissing(names, metas);
    if (state.missing === null) return null;
    if (state.leader !== leaderSince.leader) leaderSince = { leader: state.leader, at: Date.now() };
    const restartable = nodes.filter((n, i) => state.unlisted.includes(names[i]!) && canRestart(n));
    if (restartable.length > 0 && Date.now() - leaderSince.at >= UNHEARD_NODE_GRACE_MS) {
      unheard = restartable;
      return null;
    }
    return state.missing;
  }, "a JetStream meta leader");
  return unheard;
}

/** A node's view of the JetStream meta group (/jsz); only the leader lists its peers (replicas). */
interface MetaCluster {
  leader?: string;
  replicas?: Array<{ name: string; current: boolean; offline?: boolean }>;
}

/**
 * What placing a replicated stream still lacks as far as /jsz shows it (`missing`, null when
 * nothing): every node follows one meta leader, that leader is one of these nodes, and it lists
 * each other node as a current, online peer. A leader alone is not enough: it places a stream only
 * on the peers of its Raft group (selectPeerGroup in nats-server's jetstream_cluster.go), and a
 * node joins that group only once the leader has heard back from it. `unlisted` names the nodes
 * an agreed leader does not list.
 */
export function placementMissing(names: string[], metas: Array<MetaCluster | null>): { missing: string | null; leader: string; unlisted: string[] } {
  const leaders = metas.map((m) => m?.leader ?? "");
  const views = names.map((name, i) => `${name}: ${leaders[i] || "none"}`).join(", ");
  if (leaders.some((l) => l === "") || new Set(leaders).size > 1) {
    return { missing: `one JetStream meta leader seen by every node (${views})`, leader: "", unlisted: [] };
  }
  const leader = leaders[0]!;
  const index = names.indexOf(leader);
  if (index < 0) return { missing: `a JetStream meta leader among ${names.join(", ")} (they follow ${leader})`, leader: "", unlisted: [] };
  const replicas = metas[index]?.replicas ?? [];
  const unlisted = names.filter((name) => name !== leader && !replicas.some((r) => r.name === name && r.current && !r.offline));
  const missing = unlisted.length === 0 ? null : `meta leader ${leader} to list ${unlisted.join(", ")} as current peers`;
  return { missing, leader, unlisted };
}

/**
 * Polls `probe` until it reports nothing missing (null) or the deadline passes; the timeout names
 * what it last reported. A BrokerError from the probe (a node exited) ends the wait at once:
 * waiting out the deadline for a dead process would only hide why.
 */
async function waitFor(deadline: number, probe: () => Promise<string | null>, what: string): Promise<void> {
  let missing = what;
  while (Date.now() < deadline) {
    try {
      const result = await probe();
      if (result === null) return;
      missing = result;
    } catch (err) {
      if (err instanceof BrokerError) throw err;
    }
    await sleep(50);
  }
  throw new BrokerError("NOT_READY", `timed out waiting for ${missing}`);
}

function checkAlive(node: ReadyNode): void {
  const { exitCode, signalCode } = node.process;
  if (exitCode === null && signalCode === null) return;
  throw new BrokerError("EXITED", `nats-server ${node.name} exited with ${exitCode ?? signalCode}: ${lastLogLine(node.logFile)} (see ${node.logFile})`);
}

/** The last line nats-server wrote, which says why it stopped (e.g. a port another process holds). */
function lastLogLine(logFile: string): string {
  try {
    const lines = readFileSync(logFile, "utf8").trimEnd().split("\n");
    return lines[lines.length - 1] ?? "";
  } catch {
    return "no log";
  }
}

async function getJson<T>(port: number, path: string): Promise<T | null> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(1000) });
  return res.ok ? ((await res.json()) as T) : null;
}
