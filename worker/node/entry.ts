// The edge on Node, for self-hosters without Cloudflare: the same app, served by
// @hono/node-server, publishing over one shared @nats-io/transport-node connection.
import { serve, type ServerType } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import type { CompiledRegistry } from "../../registry/compiled.ts";
import { createApp } from "../http/app.ts";
import { parseConfig } from "../config.ts";
import type { ApiKeyEntry } from "../auth/keys.ts";
import type { LogSink } from "../http/access-log.ts";
import { discardNodeBody, readNodeBody } from "./body.ts";
import { answerClientError } from "./client-error.ts";
import { NodePublisher } from "./publisher.ts";
import { loadRegistry } from "./registry-loader.ts";
import { NodeSockets } from "./sockets.ts";
import { SocketMetrics } from "./socket-metrics.ts";
import { RegistryView } from "../events/schema-registry.ts";

export interface NodeEdgeOptions {
  port?: number;
  host?: string;
  /** nats:// URLs of the cluster's nodes. */
  natsServers: string[];
  /** A built registry directory, or the registry itself. */
  registryDir?: string;
  registry?: CompiledRegistry;
  apiKeys?: ApiKeyEntry[];
  /** The same vars as wrangler.toml's [vars] (limits, CORS_ORIGINS, …); defaults in config.ts. */
  vars?: Record<string, string>;
  log?: LogSink;
}

export interface RunningNodeEdge {
  url: string;
  stop(): Promise<void>;
}

export async function startNodeEdge(opts: NodeEdgeOptions): Promise<RunningNodeEdge> {
  // The config first: a bad setting is reported before the registry is loaded.
  const vars: Record<string, string> = { ...(opts.vars ?? {}), NATS_URLS: opts.natsServers.join(",") };
  if (opts.apiKeys) vars.API_KEYS = JSON.stringify(opts.apiKeys);
  const config = parseConfig(vars, "NATS_URLS");
  const registry = opts.registry ?? (opts.registryDir ? await loadRegistry(opts.registryDir) : undefined);
  if (!registry) throw new Error("startNodeEdge needs registryDir or registry");
  const publisher = new NodePublisher({ servers: config.natsUrls, publishTimeoutMs: config.publishTimeoutMs, auth: config.natsAuth });
  const socketMetrics = new SocketMetrics();
  const sockets = new NodeSockets({ config, registry: new RegistryView(registry), publisher, stats: socketMetrics, log: opts.log ?? ((line) => console.log(line)) });
  const app = createApp({
    registry,
    config,
    publisher,
    log: opts.log,
    readBody: readNodeBody,
    discardBody: discardNodeBody,
    sockets: sockets.acceptor,
    metrics: { contentType: socketMetrics.registry.contentType, text: () => socketMetrics.registry.metrics() },
  });
  const host = opts.host ?? "127.0.0.1";
  const server = await new Promise<ServerType>((resolveServer, reject) => {
    const s = serve({ fetch: app.fetch, port: opts.port ?? 0, hostname: host }, () => resolveServer(s));
    s.once("error", reject);
  });
  server.on("clientError", answerClientError);
  sockets.attach(server as Server, app);
  // A client may half-close its side once the request is sent (RFC 9112 §9.6). Node's default is
  // to close the connection then, even with the request in flight: the event is published but
  // the 202 never arrives. With this (node:http's own switch), the answer is written, then closed.
  (server as ServerType & { httpAllowHalfOpen?: boolean }).httpAllowHalfOpen = true;
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    async stop() {
      await sockets.close();
      await new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await publisher.close();
    },
  };
}
