// What the admin API's routes take from the running bridge: passed in, so the app is built apart
// from the server that listens (service.ts) and can be exercised with app.request() too.
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "pino";
import type { BridgeConfig } from "../config.ts";
import type { Deliverer } from "../delivery/webhook-post.ts";
import type { SsrfPolicy } from "../delivery/ssrf.ts";
import type { BridgeMetrics } from "../metrics.ts";
import type { AttemptLog } from "../recovery/attempt-log.ts";
import type { SubscriptionStore } from "../subscriptions/store.ts";
import type { RegistrySource } from "../registry/index.ts";

export interface AdminDeps {
  nc: NatsConnection;
  store: SubscriptionStore;
  deliverer: Deliverer;
  attempts: AttemptLog;
  metrics: BridgeMetrics;
  config: BridgeConfig;
  policy: SsrfPolicy;
  ready: () => boolean;
  /** Where a 500's error and its cause go (the client gets a generic detail). */
  log: Logger;
  /** The registry build a pinned version is checked against (absent: none configured). */
  registry?: RegistrySource;
}
