// The Worker: its default export serves the app; PublisherShard and SocketHub are the Durable
// Object classes bound as PUBLISHER and SOCKETS in wrangler.toml. The app is built once per isolate, on the first request,
// because bindings (env) arrive with requests.
import type { ExecutionContext, Hono } from "hono";
import * as registry from "jetgate-registry";
import { createApp } from "../http/app.ts";
import { ConfigError, parseConfig } from "../config.ts";
import { DurablePublisher, PublisherShard, varsOf, type WorkerEnv } from "./publisher-do.ts";
import { HubAcceptor, SocketHub } from "./socket-hub.ts";
import { errorToResponse, makeProblem, problemResponse } from "../http/problems.ts";
import type { AppEnv } from "../http/context.ts";

export { PublisherShard, SocketHub };

let app: Hono<AppEnv> | null = null;

function appFor(env: WorkerEnv): Hono<AppEnv> {
  if (!app) {
    const config = parseConfig(varsOf(env), "NATS_WS_URLS");
    app = createApp({
      registry,
      config,
      publisher: new DurablePublisher(env.PUBLISHER, config.publisherShards, config.publishTimeoutMs),
      sockets: new HubAcceptor(env.SOCKETS, config.socketHubShards),
    });
  }
  return app;
}

export default {
  fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Response | Promise<Response> {
    try {
      return appFor(env).fetch(request, env, ctx);
    } catch (err) {
      // A bad configuration answers every request with the reason, instead of an opaque 500.
      if (err instanceof ConfigError) {
        return problemResponse(makeProblem("INTERNAL", err.message));
      }
      return errorToResponse(err);
    }
  },
};
