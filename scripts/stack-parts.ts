// The parts of the local stack after the broker, started in this order and stopped in reverse.
// Each returns the lines it adds to the banner. Data flows one way: schemas → build → edge, and
// edge → broker → bridge → receiver.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Broker } from "../broker/server/index.ts";
import { buildRegistry, DEFAULT_OUT } from "../registry/index.ts";
import { devApiKeys, DEV_API_KEY } from "../worker/index.ts";
import { startEdgeWorkerd } from "../worker/dev/index.ts";
import {
  startBridge,
  applySubscriptions,
  applySubscriptionsFile,
  loadBridgeConfig,
  parseSubscriptionsYaml,
  ssrfPolicy,
  SubscriptionStore,
} from "../bridge/index.ts";
import { startDemoReceiver } from "../bridge/dev/index.ts";
import { STACK_PORTS } from "./stack-settings.ts";

interface StackContext {
  root: string;
  broker: Broker;
  nc: NatsConnection;
  log: (line: string) => void;
  ports: { edge: number; bridge: number; receiver: number };
  dataDir: string;
}

export interface StackStep {
  name: string;
  start(ctx: StackContext): Promise<{ stop: () => Promise<unknown>; banner: string[] }>;
}

/** The dev subscription's secret (deploy/subscriptions.dev.yaml): public, for the local stack only. */
const DEV_SUBSCRIPTIONS = "deploy/subscriptions.dev.yaml";
const DEV_WEBHOOK_SECRET = "whsec_amV0Z2F0ZS1kZXYtb25seS1zZWNyZXQtZG8tbm90LXVzZSE=";
const DEV_ADMIN_TOKEN = "dev-admin-token";
/** The edge's TOKEN_SECRET in the local stack (public, dev only), so POST /v1/tokens works there. */
const DEV_TOKEN_SECRET = "jetgate-dev-only-token-secret-do-not-use";
/** The only private address the dev subscriptions may reach through the bridge's SSRF guard. */
const LOOPBACK_ALLOW = ["127.0.0.1"];
/** The receiver's port in DEV_SUBSCRIPTIONS. */
const DEFAULT_RECEIVER_PORT = STACK_PORTS.receiver;

const SAMPLE_EVENT = {
  orderId: "o-1001",
  customer: { id: "c-1", email: "a@example.com" },
  total: { amount: "19.99", currency: "EUR" },
};

const registry: StackStep = {
  name: "registry build",
  async start(ctx) {
    const result = await buildRegistry({
      dir: join(ctx.root, "schemas"),
      out: join(ctx.root, DEFAULT_OUT),
      // A progress line every 100 versions: a large registry takes seconds, a small one none.
      onProgress: (p) => p.done % 100 === 0 && ctx.log(`registry: ${p.done}/${p.total} versions`),
    });
    const types = Object.keys(result.manifest.types);
    ctx.log(`registry: ${types.length} types built into ${result.outDir} (${result.reused} validators reused)`);
    return { stop: async () => {}, banner: [`schemas   ${types.join(", ")} (from schemas/, built into ${DEFAULT_OUT})`] };
  },
};

const edge: StackStep = {
  name: "edge (workerd)",
  async start(ctx) {
    const running = await startEdgeWorkerd({
      port: ctx.ports.edge,
      host: "127.0.0.1",
      natsWebsocketUrls: ctx.broker.websocketUrls,
      registryDir: join(ctx.root, DEFAULT_OUT),
      apiKeys: await devApiKeys(),
      // DEMO_PAGE: the browser demo at /demo, which carries the dev key; the stack is dev only.
      vars: { LOG_REQUESTS: "true", TOKEN_SECRET: DEV_TOKEN_SECRET, DEMO_PAGE: "true" },
      onOutput: (line) => process.stdout.write(`[edge] ${line}\n`),
    });
    const curl =
      `curl -i ${running.url}/v1/events/order.created -H 'authorization: Bearer ${DEV_API_KEY}' ` +
      `-H 'content-type: application/json' -d '${JSON.stringify(SAMPLE_EVENT)}'`;
    return {
      stop: () => running.stop(),
      banner: [
        `edge      ${running.url} (workerd; dev API key ${DEV_API_KEY})`,
        `demo      ${running.url}/demo (publish and subscribe from a browser over GET /v1/ws)`,
        "",
        "Post a sample event:",
        "",
        `  ${curl}`,
        "",
      ],
    };
  },
};

const receiver: StackStep = {
  name: "demo webhook receiver",
  async start(ctx) {
    const running = await startDemoReceiver({
      port: ctx.ports.receiver,
      host: "127.0.0.1",
      secret: DEV_WEBHOOK_SECRET,
      print: (line) => process.stdout.write(`[receiver] ${line}\n`),
    });
    return { stop: () => running.stop(), banner: [`receiver  ${running.url} (prints each delivery and its signature check)`] };
  },
};

const bridge: StackStep = {
  name: "bridge",
  async start(ctx) {
    // After an abrupt stop the subscriptions bucket elects its leader only now: wait, and say so.
    const applied = await applyDevSubscriptions(ctx);
    ctx.log(`subscriptions from ${DEV_SUBSCRIPTIONS}: ${JSON.stringify(applied)}`);
    const config = loadBridgeConfig(process.env, {
      servers: ctx.broker.servers,
      host: "127.0.0.1",
      port: ctx.ports.bridge,
      ssrfAllow: LOOPBACK_ALLOW,
      adminToken: DEV_ADMIN_TOKEN,
      // The edge's own build: pinned versions are shaped with it, and a rebuild is picked up live.
      registry: join(ctx.root, DEFAULT_OUT),
    });
    const running = await startBridge(config);
    return {
      stop: () => running.stop(),
      banner: [`bridge    ${running.url} (admin API token ${DEV_ADMIN_TOKEN}, /metrics)`],
    };
  },
};

/**
 * The dev subscriptions file names the receiver's default port; on other ports (--port-base) the
 * stack points the demo subscription at its own receiver instead.
 */
async function applyDevSubscriptions(ctx: StackContext) {
  const file = join(ctx.root, DEV_SUBSCRIPTIONS);
  const wait = { onWait: ctx.log };
  if (ctx.ports.receiver === DEFAULT_RECEIVER_PORT) return applySubscriptionsFile(ctx.nc, file, { ssrfAllow: LOOPBACK_ALLOW, wait });
  const from = `//127.0.0.1:${DEFAULT_RECEIVER_PORT}/`;
  const inputs = parseSubscriptionsYaml(await readFile(file, "utf8"), file).map((input) => {
    const url = (input as { url?: unknown }).url;
    return typeof url === "string" ? { ...(input as object), url: url.replace(from, `//127.0.0.1:${ctx.ports.receiver}/`) } : input;
  });
  return applySubscriptions(await SubscriptionStore.open(ctx.nc, wait), inputs, ssrfPolicy({ ssrfAllow: LOOPBACK_ALLOW }));
}

export const STACK: StackStep[] = [registry, receiver, bridge, edge];
