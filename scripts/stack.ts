// `npm start` (= `jetgate stack`): the whole local stack in the foreground, on the fixed loopback
// ports of DESIGN.md. A 3-node JetStream cluster (or one node with --single), the registry built
// into validators, the edge in real workerd, the bridge and a demo webhook receiver. Ctrl-C or
// SIGTERM stops every child it started; a second start reuses the data under .jetgate/.
import { join } from "node:path";
import { createServer } from "node:net";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { ensureStreamsReady } from "../broker/jetstream/index.ts";
import { startBroker, ensureNatsServer, stopStaleNodes, type Broker, type NodeSpec } from "../broker/server/index.ts";

import { STACK, type StackStep } from "./stack-parts.ts";
import { natsMemoryLimit, ROOT, STACK_PORTS, type StackPorts } from "./stack-settings.ts";

interface StackOptions {
  single: boolean;
  dataDir: string;
  /** Defaults to STACK_PORTS. */
  ports?: StackPorts;
}

function log(line: string): void {
  process.stdout.write(`[stack] ${line}\n`);
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

async function checkPorts(opts: StackOptions, ports: StackPorts): Promise<void> {
  const count = opts.single ? 1 : 3;
  const wanted = [
    ports.edge,
    ports.bridge,
    ports.receiver,
    ...ports.nats.slice(0, count),
    ...ports.websocket.slice(0, count),
    ...ports.monitor.slice(0, count),
    ...(opts.single ? [] : ports.routes),
  ];
  const taken: number[] = [];
  for (const port of wanted) if (!(await portFree(port))) taken.push(port);
  if (taken.length) {
    throw new Error(`ports already in use on 127.0.0.1: ${taken.join(", ")} (is another \`npm start\` running?)`);
  }
}

/** The dev configs read their ports from these variables (deploy/nats/dev/*.conf). */
function nodeEnv(ports: StackPorts, i: number, single: boolean): Record<string, string> {
  const env: Record<string, string> = {
    JETGATE_NATS_PORT: String(ports.nats[i]),
    JETGATE_NATS_WEBSOCKET_PORT: String(ports.websocket[i]),
    JETGATE_NATS_MONITOR_PORT: String(ports.monitor[i]),
  };
  if (!single) {
    env.JETGATE_NATS_CLUSTER_PORT = String(ports.routes[i]);
    ports.routes.forEach((port, r) => (env[`JETGATE_NATS_ROUTE_${r + 1}`] = `nats-route://127.0.0.1:${port}`));
  }
  return env;
}

function nodeSpecs(opts: StackOptions, ports: StackPorts): NodeSpec[] {
  const natsDir = join(opts.dataDir, opts.single ? "single" : "cluster");
  const count = opts.single ? 1 : 3;
  return Array.from({ length: count }, (_, i) => ({
    name: `n${i + 1}`,
    dir: join(natsDir, `n${i + 1}`),
    configFile: join(ROOT, opts.single ? "deploy/nats/dev/single.conf" : `deploy/nats/dev/n${i + 1}.conf`),
    env: nodeEnv(ports, i, opts.single),
    ports: { client: ports.nats[i]!, websocket: ports.websocket[i]!, cluster: ports.routes[i]!, monitor: ports.monitor[i]! },
  }));
}

export async function runStack(opts: StackOptions): Promise<void> {
  const t0 = Date.now();
  const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
  const ports = opts.ports ?? STACK_PORTS;
  // A stack that was SIGKILLed leaves its detached nats-server nodes behind: stop those first.
  const specs = nodeSpecs(opts, ports);
  await stopStaleNodes(specs, log);
  await checkPorts(opts, ports);
  const nats = ensureNatsServer(log);
  log(`nats-server ${nats.version} (${nats.path})`);

  const stops: Array<{ name: string; stop: () => Promise<unknown> }> = [];
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      for (const { name, stop } of stops.reverse()) {
        log(`stopping ${name}`);
        await stop().catch((err) => log(`stopping ${name} failed: ${err instanceof Error ? err.message : err}`));
      }
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: shutting down`);
    void stopAll().then(() => process.exit(0));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  try {
    log(`starting ${opts.single ? "one nats-server node" : "a 3-node nats-server cluster"} (data in ${opts.dataDir})`);
    const broker: Broker = await startBroker({ nodes: specs, detached: true, memoryLimit: natsMemoryLimit(), log });
    stops.push({ name: "nats-server", stop: () => broker.stop() });
    const nc: NatsConnection = await connect({ servers: broker.servers, name: "jetgate-stack" });
    stops.push({ name: "stack connection", stop: () => nc.close() });
    await ensureStreamsReady(nc, {
      replicas: broker.replicas,
      onWait: log,
    });
    log(`JetStream ready, streams EVENTS and DLQ at R${broker.replicas} (${elapsed()})`);

    const ctx = { root: ROOT, broker, nc, log, ports, dataDir: opts.dataDir };
    const banner: string[] = [];
    for (const step of STACK as StackStep[]) {
      const started = await step.start(ctx);
      stops.push({ name: step.name, stop: started.stop });
      banner.push(...started.banner);
      log(`${step.name} ready (${elapsed()})`);
    }
    takeOverSignals(onSignal);
    printBanner(banner, broker, opts, elapsed());
  } catch (err) {
    await stopAll();
    throw err;
  }
  // Stay in the foreground until a signal arrives.
  await new Promise<never>(() => {});
}

/**
 * Miniflare installs SIGINT/SIGTERM handlers that exit the process at once, which would cut our
 * ordered shutdown short (the bridge finishing in-flight deliveries before nats-server stops).
 * The stack disposes Miniflare itself, so it keeps only its own handler. Miniflare's "exit" hook
 * stays, and still kills workerd if this process dies some other way.
 */
function takeOverSignals(handler: (signal: NodeJS.Signals) => void): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.removeAllListeners(signal);
    process.once(signal, handler);
  }
}

function printBanner(lines: string[], broker: Broker, opts: StackOptions, took: string): void {
  const nats = broker.nodes.map((n) => `${n.clientUrl} (ws ${n.websocketUrl}, monitor http://127.0.0.1:${n.ports.monitor})`);
  const out = [
    "",
    `Jetgate local stack is up in ${took}${opts.single ? " (single node, R1)" : " (3-node cluster, R3)"}`,
    "",
    ...nats.map((n) => `  nats      ${n}`),
    ...lines.map((l) => `  ${l}`),
    "",
    "Press Ctrl-C to stop everything.",
    "",
  ];
  process.stdout.write(out.join("\n") + "\n");
}
