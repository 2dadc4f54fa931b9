// Wires the bridge: NATS connection, its own streams and buckets (created idempotently with the
// EVENTS stream's replicas), the consumer manager, the admin API server, and graceful shutdown.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstream } from "@nats-io/jetstream";
import { jetstreamManagerReady } from "../broker/jetstream/index.ts";
import { pino, type Logger } from "pino";
import { adminApp, adminListener } from "./admin/api.ts";
import { AttemptLog, ensureAttemptsStream } from "./recovery/attempt-log.ts";
import { checkBridgeConfig, type BridgeConfig } from "./config.ts";
import { durableName, streamOf } from "./delivery/durable-consumers.ts";
import { ConsumerManager } from "./delivery/supervisor.ts";
import { Deliverer, type DelivererNet } from "./delivery/webhook-post.ts";
import { dlqDepths } from "./recovery/dlq.ts";
import { HealthTracker } from "./delivery/auto-disable.ts";
import { BridgeMetrics } from "./metrics.ts";
import { isConsumerNotFound } from "./nats-errors.ts";
import { ssrfPolicy } from "./subscriptions/operations.ts";
import { ensureRedriveStream } from "./recovery/redrive.ts";
import { SubscriptionStore, eventsReplicas } from "./subscriptions/store.ts";
import { TickBatch } from "./delivery/tick-batch.ts";

export interface RunningBridge {
  /** Base URL of the admin API / metrics server. */
  url: string;
  nc: NatsConnection;
  store: SubscriptionStore;
  manager: ConsumerManager;
  metrics: BridgeMetrics;
  /** Stops pulling, finishes or naks in-flight deliveries within the deadline, closes everything. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Use this connection instead of connecting to config.servers (it is not closed on stop). */
  nc?: NatsConnection;
  logger?: Logger;
  /** Name resolution and connect for deliveries (tests keep every connection on loopback). */
  net?: DelivererNet;
}

export async function startBridge(input: BridgeConfig, opts: StartOptions = {}): Promise<RunningBridge> {
  const config = checkBridgeConfig({ ...input });
  const log = opts.logger ?? pino({ level: config.logLevel, base: { service: "jetgate-bridge", instance: config.instance } });
  const ownConnection = !opts.nc;
  const login = config.natsUser ? { user: config.natsUser, pass: config.natsPass } : config.natsToken ? { token: config.natsToken } : {};
  const nc = opts.nc ?? (await connect({ servers: config.servers, name: `jetgate-bridge ${config.instance}`, maxReconnectAttempts: -1, reconnectTimeWait: 250, ...login }));
  const cleanups: Array<() => Promise<unknown>> = [];
  if (ownConnection) cleanups.push(() => nc.drain().catch(() => nc.close()));
  try {
    // Each start-up step waits for its stream's or bucket's leader (a cluster may still be
    // recovering from an abrupt stop), saying what it waits for; DESIGN.md decision 15.
    const wait = { deadlineMs: config.readyDeadlineMs, onWait: (line: string) => log.warn(line) };
    const js = jetstream(nc);
    const jsm = await jetstreamManagerReady(nc, wait);
    const replicas = await eventsReplicas(nc, wait);
    await ensureAttemptsStream(nc, replicas, config.attemptLogMaxAgeMs, wait);
    await ensureRedriveStream(nc, replicas, config.redriveMaxAgeMs, wait);
    const store = await SubscriptionStore.open(nc, wait);
    const policy = ssrfPolicy(config);
    const deliverer = new Deliverer(policy, config.userAgent, config.connectionsPerOrigin, opts.net);
    cleanups.unshift(() => deliverer.close());
    const health = new HealthTracker(store, config, log);
    let manager: ConsumerManager | undefined;
    const metrics = new BridgeMetrics({
      lag: async () => {
        const out = new Map<string, number>();
        for (const id of manager?.running() ?? []) {
          let lag = 0;
          for (const source of ["events", "redrive"] as const) {
            // A runner registers before its durables exist; any other failure fails the scrape (counted).
            const info = await jsm.consumers.info(streamOf(source), durableName(id, source)).catch((err: unknown) => {
              if (isConsumerNotFound(err)) return null;
              throw err;
            });
            lag += info?.num_pending ?? 0;
          }
          out.set(id, lag);
        }
        return out;
      },
      dlq: () => dlqDepths(nc),
    });
    const attempts = new AttemptLog(nc, config.attemptLog, log, metrics);
    const settle = new TickBatch((err) => log.error({ err }, "settling a delivered message failed"));
    manager = new ConsumerManager(store, { nc, js, jsm, deliverer, attempts, metrics, health, config, log, settle }, log);
    let ready = false;
    const app = adminApp({ nc, store, deliverer, attempts, metrics, config, policy, ready: () => ready, log });
    const server = await listen(adminListener(app, log), config.host, config.port);
    cleanups.unshift(() => new Promise<void>((resolve) => {
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      server.close(() => resolve());
    }));
    await manager.start();
    ready = true;
    const { port } = server.address() as AddressInfo;
    const url = `http://${config.host}:${port}`;
    log.info({ url, subscriptions: manager.running() }, "bridge started");
    let stopping: Promise<void> | undefined;
    return {
      url,
      nc,
      store,
      manager,
      metrics,
      stop() {
        stopping ??= (async () => {
          ready = false;
          await manager.stop(config.shutdownDeadlineMs);
          for (const cleanup of cleanups) await cleanup().catch((err: unknown) => log.warn({ err }, "a shutdown step failed; going on with the others"));
          log.info("bridge stopped");
        })();
        return stopping;
      },
    };
  } catch (err) {
    for (const cleanup of cleanups) await cleanup().catch((cleanupErr: unknown) => log.warn({ err: cleanupErr }, "cleaning up a failed start failed"));
    throw err;
  }
}

function listen(listener: ReturnType<typeof adminListener>, host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(listener);
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}
