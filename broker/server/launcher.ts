// Starts nats-server processes (one node, or a 3-node JetStream cluster) from generated configs.
// Used by the local stack (`jetgate stack`) with the fixed ports of DESIGN.md, and by the test
// harness and benchmarks with free ports in temp dirs. Every process is tracked by PID so callers
// can always stop what they started.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync, openSync, closeSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { BrokerError } from "../errors.ts";
import { ensureNatsServer } from "./nats-binary.ts";
import { waitReady } from "./readiness.ts";

/** How long a node may take to accept clients, and the cluster to elect a JetStream meta leader. */
const DEFAULT_READY_TIMEOUT_MS = 20_000;

export interface NodePorts {
  client: number;
  websocket: number;
  cluster: number;
  monitor: number;
}

export interface NodeSpec {
  name: string;
  ports: NodePorts;
  /** Directory for this node's config, JetStream store and log. */
  dir: string;
  /**
   * A config file to run instead of a generated one (the local stack runs deploy/nats/dev/*.conf).
   * It must take its store directory from $JETGATE_NATS_STORE and listen on `ports` (the dev
   * configs read them from the variables in `env`).
   */
  configFile?: string;
  /** Extra environment for this node's nats-server, for $VARIABLES in its config file. */
  env?: Record<string, string>;
}

export interface RunningNode extends NodeSpec {
  process: ChildProcess;
  pid: number;
  clientUrl: string;
  websocketUrl: string;
  logFile: string;
}

export interface ClusterOptions {
  nodes: NodeSpec[];
  /** Cluster name of generated configs (default clusterNameFor(nodes)); ignored for a single node. */
  clusterName?: string;
  readyTimeoutMs?: number;
  /** Max file store per node (default 2GB). */
  maxFileStore?: string;
  /**
   * JetStream's fsync interval (`sync_interval`): unset keeps nats-server's default (a flush every
   * 2 minutes), "always" fsyncs each write before its ack (the production example; see docs/operators.md, "The broker").
   */
  syncInterval?: string;
  /**
   * Run nodes in their own process group, so a terminal's Ctrl-C reaches only the parent, which
   * then stops them in order (the local stack). Tests leave this off: there a Ctrl-C should stop all.
   */
  detached?: boolean;
  /**
   * GOMEMLIMIT of every node (a Go memory limit such as "85MiB", or "off"); unset leaves the
   * environment's (none by default). nats-server's Go runtime otherwise lets its heap grow to twice
   * what was live at the last collection and collects only when it gets there, or every 2 minutes
   * when idle, so buffers nats-server no longer uses (its message-block caches are recycled through
   * a sync.Pool) stay resident for minutes. With a limit the collector and the scavenger keep the
   * total under it. NATS's Helm chart sets it to 90% of the container's memory limit.
   */
  memoryLimit?: string;
  /** Where a line goes when nats-server has to be fetched first (nats-binary.ts) or a node is restarted (readiness.ts). */
  log?: (line: string) => void;
}

export interface Broker {
  nodes: RunningNode[];
  /** Client URLs of every node, for a client that should fail over. */
  servers: string[];
  websocketUrls: string[];
  /** Replicas for streams: 3 in a cluster, 1 on a single node. */
  replicas: number;
  stop(): Promise<void>;
  /** Stop one node (SIGTERM, then SIGKILL after a grace period). */
  stopNode(index: number): Promise<void>;
  /** Start a stopped node again with the same config and store. */
  startNode(index: number): Promise<void>;
  /**
   * Resolves once every running node is healthy and, in a cluster, the meta leader lists every
   * other running node as a current peer (readiness.ts), restarting a node it never hears.
   */
  ready(timeoutMs?: number): Promise<void>;
}

/**
 * The default cluster name of generated configs: "jetgate-" and a hash of the nodes' directories,
 * so each cluster on this host has its own, and keeps it across restarts (its streams' Raft groups
 * record it). Clusters that share a name merge as soon as a node of one dials a port the other now
 * listens on: a port a stopped node freed and a new cluster took, or one that two parallel runs
 * were both given by the OS before either bound it. Merged, they share one meta group, as Raft
 * peer ids are hashes of server names (n1, n2, n3 in every cluster): in trials here a fresh
 * cluster then had its streams refused (10005) for as long as the other ran, or found "its"
 * streams already there, kept by the other cluster. Between clusters of different names
 * nats-server refuses the route (ClusterNameConflict).
 */
export function clusterNameFor(nodes: NodeSpec[]): string {
  const hash = createHash("sha256");
  for (const node of nodes) hash.update(`${node.dir}\n`);
  return `jetgate-${hash.digest("hex").slice(0, 12)}`;
}

/** One node's nats-server config (verified on nats-server 2.10.27). */
export function nodeConfig(spec: NodeSpec, peers: NodeSpec[], opts: { clusterName: string; maxFileStore: string; syncInterval?: string }): string {
  const lines = [
    `server_name: ${spec.name}`,
    `listen: 127.0.0.1:${spec.ports.client}`,
    `http: 127.0.0.1:${spec.ports.monitor}`,
    `jetstream {`,
    `  store_dir: ${JSON.stringify(join(spec.dir, "jetstream"))}`,
    `  max_memory_store: 256MB`,
    `  max_file_store: ${opts.maxFileStore}`,
    ...(opts.syncInterval ? [`  sync_interval: ${opts.syncInterval}`] : []),
    `}`,
    `websocket {`,
    `  host: 127.0.0.1`,
    `  port: ${spec.ports.websocket}`,
    `  no_tls: true`,
    `}`,
    // Publishes from the edge carry headers; 8 MiB leaves room for a full batch of events.
    `max_payload: 8MB`,
  ];
  if (peers.length > 1) {
    lines.push(
      `cluster {`,
      `  name: ${opts.clusterName}`,
      `  listen: 127.0.0.1:${spec.ports.cluster}`,
      `  routes: [${peers.map((p) => `nats-route://127.0.0.1:${p.ports.cluster}`).join(", ")}]`,
      `}`,
    );
  }
  return lines.join("\n") + "\n";
}

// Children that are still running when this process exits are killed, so a crashed test or a
// stack stopped by an uncaught error never leaves a nats-server behind.
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

function spawnNode(bin: string, spec: NodeSpec, detached = false, memoryLimit?: string): RunningNode {
  const configFile = spec.configFile ?? join(spec.dir, "nats.conf");
  const logFile = join(spec.dir, "nats.log");
  const log = openSync(logFile, "a");
  const child = spawn(bin, ["-c", configFile], {
    stdio: ["ignore", log, log],
    detached,
    env: { ...process.env, ...(memoryLimit ? { GOMEMLIMIT: memoryLimit } : {}), ...spec.env, JETGATE_NATS_STORE: join(spec.dir, "jetstream") },
  });
  closeSync(log);
  // Read by stopStaleNodes when the parent was SIGKILLed and this node outlived it (detached).
  writeFileSync(join(spec.dir, PID_FILE), `${child.pid}\n`);
  live.add(child);
  child.once("exit", () => live.delete(child));
  if (child.pid === undefined) throw new BrokerError("SPAWN_FAILED", `could not start nats-server for ${spec.name}`);
  return {
    ...spec,
    process: child,
    pid: child.pid,
    clientUrl: `nats://127.0.0.1:${spec.ports.client}`,
    websocketUrl: `ws://127.0.0.1:${spec.ports.websocket}`,
    logFile,
  };
}

const PID_FILE = "nats.pid";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Stops nats-server nodes that a previous parent left running on these stores. The local stack
 * runs its nodes detached (own process group), so when the stack itself is SIGKILLed (`kill -9`
 * of its process group, an OOM kill) they keep running and hold the ports and the store. A pid
 * counts only while `ps` shows it is nats-server running this node's config file, so a reused pid
 * is never signalled. SIGTERM first (nats-server then shuts down cleanly), SIGKILL after graceMs.
 */
export async function stopStaleNodes(specs: NodeSpec[], log?: (line: string) => void, graceMs = 10_000): Promise<void> {
  for (const spec of specs) {
    const pidFile = join(spec.dir, PID_FILE);
    let pid: number;
    try {
      pid = Number.parseInt(readFileSync(pidFile, "utf8"), 10);
    } catch {
      continue;
    }
    const command = Number.isInteger(pid) && pid > 0 && alive(pid) ? spawnSync("ps", ["-o", "command=", "-p", String(pid)], { encoding: "utf8" }).stdout : "";
    const configFile = spec.configFile ?? join(spec.dir, "nats.conf");
    if (command.includes("nats-server") && command.includes(configFile)) {
      log?.(`stopping nats-server ${spec.name} (pid ${pid}) left running by an earlier run`);
      process.kill(pid, "SIGTERM");
      const deadline = Date.now() + graceMs;
      while (alive(pid) && Date.now() < deadline) await sleep(100);
      if (alive(pid)) process.kill(pid, "SIGKILL");
      const killDeadline = Date.now() + 5_000;
      while (alive(pid) && Date.now() < killDeadline) await sleep(50);
      if (alive(pid)) throw new BrokerError("SPAWN_FAILED", `nats-server ${spec.name} (pid ${pid}) from an earlier run does not stop`);
    }
    rmSync(pidFile, { force: true });
  }
}

async function stopProcess(node: RunningNode, graceMs = 5000): Promise<void> {
  const child = node.process;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

export async function startBroker(opts: ClusterOptions): Promise<Broker> {
  const bin = ensureNatsServer(opts.log).path;
  const clusterName = opts.clusterName ?? clusterNameFor(opts.nodes);
  const maxFileStore = opts.maxFileStore ?? "2GB";
  for (const spec of opts.nodes) {
    mkdirSync(spec.dir, { recursive: true });
    if (spec.configFile) continue;
    writeFileSync(join(spec.dir, "nats.conf"), nodeConfig(spec, opts.nodes, { clusterName, maxFileStore, syncInterval: opts.syncInterval }));
  }
  const nodes = opts.nodes.map((spec) => spawnNode(bin, spec, opts.detached, opts.memoryLimit));
  // The wait's repair for a node the meta leader never hears (readiness.ts): same config and store.
  const restart = async (node: RunningNode): Promise<RunningNode> => {
    await stopProcess(node);
    const restarted = spawnNode(bin, node, opts.detached, opts.memoryLimit);
    const index = nodes.indexOf(node);
    if (index >= 0) nodes[index] = restarted;
    return restarted;
  };
  const readyOptions = { restart, log: opts.log };
  const broker: Broker = {
    nodes,
    servers: nodes.map((n) => n.clientUrl),
    websocketUrls: nodes.map((n) => n.websocketUrl),
    replicas: nodes.length >= 3 ? 3 : 1,
    async stop() {
      await Promise.all(nodes.map((n) => stopProcess(n)));
    },
    async stopNode(index) {
      const node = nodes[index];
      if (node) await stopProcess(node);
    },
    async startNode(index) {
      const node = nodes[index];
      if (!node) throw new BrokerError("NO_SUCH_NODE", `no node ${index}`);
      const restarted = spawnNode(bin, node, opts.detached, opts.memoryLimit);
      nodes[index] = restarted;
      await waitReady([restarted], opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS);
    },
    async ready(timeoutMs = DEFAULT_READY_TIMEOUT_MS) {
      const running = nodes.filter((n) => n.process.exitCode === null && n.process.signalCode === null);
      await waitReady(running, timeoutMs, readyOptions);
    },
  };
  try {
    await waitReady(nodes, opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS, readyOptions);
  } catch (err) {
    await broker.stop();
    throw err;
  }
  return broker;
}
