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
import { FanOut, FANOUT_DURABLE } from "./delivery/fanout.ts";
import { BackfillRunner } from "./delivery/backfill.ts";
import { migrateLegacyLayout } from "./delivery/migrate.ts";
import { HeldReleaser } from "./delivery/held.ts";
import { SubscriptionView } from "./delivery/subscription-view.ts";
import { TaskWorker } from "./delivery/task-worker.ts";
import { RateBudget } from "./delivery/shared-rate.ts";
import { ALL_HELD, ALL_TASKS, ensureTaskStreams, HELD_STREAM, subscriptionOfSubject, TASKS_STREAM } from "./delivery/tasks.ts";
import { EVENTS_STREAM } from "../broker/index.ts";
import { Deliverer, type DelivererNet } from "./delivery/webhook-post.ts";
import { dlqDepths } from "./recovery/dlq.ts";
import { HealthTracker } from "./delivery/auto-disable.ts";
import { BridgeMetrics } from "./metrics.ts";
import { isConsumerNotFound } from "./nats-errors.ts";
import { ssrfPolicy } from "./subscriptions/operations.ts";
import { ensureRedriveStream } from "./recovery/redrive.ts";
import { SubscriptionStore } from "./subscriptions/store.ts";
import { eventsReplicas } from "./subscriptions/buckets.ts";
import { TickBatch } from "./delivery/tick-batch.ts";
import { RegistryWatcher } from "./registry/index.ts";

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
    await ensureTaskStreams(nc, replicas, config.redriveMaxAgeMs, wait);
    const store = await SubscriptionStore.open(nc, wait);
    const policy = ssrfPolicy(config);
    const deliverer = new Deliverer(policy, config.userAgent, config.connectionsPerOrigin, opts.net);
    cleanups.unshift(() => deliverer.close());
    const health = new HealthTracker(store, config, log);
    let manager: ConsumerManager | undefined;
    const view = new SubscriptionView();
    const metrics = new BridgeMetrics({
      // Two stream infos for every unordered subscription at once; a consumer info per ordered one.
      lag: async () => {
        const out = new Map<string, number>();
        for (const [stream, filter] of [[TASKS_STREAM, ALL_TASKS], [HELD_STREAM, ALL_HELD]] as const) {
          const info = await jsm.streams.info(stream, { subjects_filter: filter });
          for (const [subject, count] of Object.entries(info.state.subjects ?? {})) {
            const id = subscriptionOfSubject(subject);
            out.set(id, (out.get(id) ?? 0) + count);
          }
        }
        for (const sub of view.all()) if (!sub.ordered && !out.has(sub.id)) out.set(sub.id, 0);
        for (const id of manager?.orderedRunning() ?? []) {
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
      fanout: async () => {
        const info = await jsm.consumers.info(EVENTS_STREAM, FANOUT_DURABLE);
        return info.num_pending + info.num_ack_pending;
      },
    });
    const attempts = new AttemptLog(nc, config.attemptLog, log, metrics);
    const settle = new TickBatch((err) => log.error({ err }, "settling a delivered message failed"));
    const rates = await RateBudget.open(nc, replicas, log, wait);
    // The registry build pinned versions are shaped with; a first build that does not load stops the start.
    const registry = config.registry ? new RegistryWatcher(config.registry, log, metrics.registry) : undefined;
    if (registry) {
      await registry.start();
      cleanups.unshift(async () => registry.stop());
    }
    const runnerDeps = { nc, js, jsm, deliverer, attempts, metrics, health, config, log, settle, rates, registry };
    const worker = new TaskWorker({ ...runnerDeps, view, store });
    const held = new HeldReleaser({ js, jsm, view, log });
    manager = new ConsumerManager(store, { ...runnerDeps, view, worker, held }, log);
    const onFiltered = (sub: { id: string }, outcome: "no_match" | "error") => metrics.filtered.inc({ subscription: sub.id, outcome });
    const backfills = new BackfillRunner({ nc, js, jsm, log, instance: config.instance, lookup: (id) => view.get(id), wait, onFiltered });
    metrics.watchBackfills(() => backfills.pending());
    const fanout = new FanOut({ nc, js, jsm, store, view, log, settle, wait, onFanned: (_event, tasks) => metrics.tasksFanned.inc(tasks), onFiltered });
    let ready = false;
    const app = adminApp({ nc, store, deliverer, attempts, metrics, config, policy, ready: () => ready, log, registry });
    const server = await listen(adminListener(app, log), config.host, config.port);
    cleanups.unshift(() => new Promise<void>((resolve) => {
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      server.close(() => resolve());
    }));
    let started = false;
    cleanups.unshift(async () => {
      // Only for a start that failed half-way; a started bridge stops these in stop().
      if (!started) await Promise.all([fanout.stop(0), worker.stop(0), manager.stop(0), backfills.stop()]);
    });
    await manager.start();
    // Subscriptions of the previous layout (a durable pair each) join the fan-out first; the view
    // must show their joinedAt before the fan-out matches, or it would owe them old events.
    const { migrated } = await migrateLegacyLayout({ nc, js, jsm, store, log, wait }, view.all());
    if (migrated.length > 0) await view.waitRevision(await store.lastRevision(), config.readyDeadlineMs);
    await fanout.start();
    await worker.start();
    held.start();
    cleanups.unshift(() => held.stop());
    await backfills.start();
    void held.sweep();
    started = true;
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
          // The fan-out first (no new tasks), then the deliveries, then the ordered runners.
          await fanout.stop(config.shutdownDeadlineMs);
          await worker.stop(config.shutdownDeadlineMs);
          await manager.stop(config.shutdownDeadlineMs);
          await backfills.stop();
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
