// Starts nats-server for tests and benchmarks: one node or a 3-node JetStream cluster on free
// loopback ports, in a temp dir, with the EVENTS and DLQ streams created. Stop it with `stop()`
// (register that in t.after()); the launcher also kills its children if this process exits.
import "./exit.ts";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { BrokerError } from "../../broker/index.ts";
import { ensureStreamsReady } from "../../broker/jetstream/index.ts";
import { clusterNameFor, nodeConfig, startBroker, type Broker, type NodeSpec } from "../../broker/server/index.ts";
import { freePorts } from "./ports.ts";

export interface TestBroker extends Broker {
  dir: string;
  /** A client connection to every node (fails over); closed by stop(). */
  connect(): Promise<NatsConnection>;
}

export interface TestBrokerOptions {
  nodes?: 1 | 3;
  streams?: boolean;
  /** Appended to every node's generated config (e.g. an authorization block). */
  extraConfig?: string;
  /** JetStream's `sync_interval` ("always" to fsync every write before its ack). */
  syncInterval?: string;
  /** GOMEMLIMIT of every node (broker/server/launcher.ts, `memoryLimit`); unset: none, as by default. */
  memoryLimit?: string;
}

export async function startTestBroker(opts: TestBrokerOptions = {}): Promise<TestBroker> {
  const { dir, broker } = await startFresh(opts);
  const connections: NatsConnection[] = [];
  const open = async () => {
    const nc = await connect({ servers: broker.servers, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    connections.push(nc);
    return nc;
  };
  const stop = async () => {
    await Promise.allSettled(connections.map((nc) => nc.close()));
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (opts.streams ?? true) {
      const nc = await open();
      await ensureStreamsReady(nc, { replicas: broker.replicas, timeoutMs: 60_000 });
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { ...broker, dir, connect: open, stop };
}

/**
 * Tries to give a fresh cluster: freePorts only knows a port was free when it asked, and another
 * suite on this host may take it before nats-server binds it; that node then exits at once
 * (EXITED, with its log line naming the port), and the next try takes other ports.
 */
const START_ATTEMPTS = 3;

async function startFresh(opts: TestBrokerOptions): Promise<{ dir: string; broker: Broker }> {
  for (let attempt = 1; ; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), "jetgate-nats-"));
    try {
      return { dir, broker: await startOnFreePorts(dir, opts) };
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      if (!(err instanceof BrokerError && err.code === "EXITED") || attempt === START_ATTEMPTS) throw err;
      process.stderr.write(`# startTestBroker: try ${attempt} of ${START_ATTEMPTS} failed (${err.message}); again on other ports\n`);
    }
  }
}

async function startOnFreePorts(dir: string, opts: TestBrokerOptions): Promise<Broker> {
  const count = opts.nodes ?? 3;
  const ports = await freePorts(count * 4);
  const specs: NodeSpec[] = Array.from({ length: count }, (_, i) => ({
    name: `n${i + 1}`,
    dir: join(dir, `n${i + 1}`),
    ports: { client: ports[i * 4]!, websocket: ports[i * 4 + 1]!, cluster: ports[i * 4 + 2]!, monitor: ports[i * 4 + 3]! },
  }));
  if (opts.extraConfig) {
    const clusterName = clusterNameFor(specs);
    for (const spec of specs) {
      mkdirSync(spec.dir, { recursive: true });
      spec.configFile = join(spec.dir, "nats-extra.conf");
      writeFileSync(spec.configFile, nodeConfig(spec, specs, { clusterName, maxFileStore: "1GB", syncInterval: opts.syncInterval }) + opts.extraConfig);
    }
  }
  // The launcher's notices (a node restarted while starting) go to the test's stderr.
  const log = (line: string) => process.stderr.write(`# startTestBroker: ${line}\n`);
  return startBroker({ nodes: specs, maxFileStore: "1GB", syncInterval: opts.syncInterval, memoryLimit: opts.memoryLimit, log });
}
