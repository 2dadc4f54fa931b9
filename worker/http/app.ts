// The edge as one Hono app built from its dependencies. Only web-standard APIs (Request,
// Response, crypto.subtle, streams), so the same app runs in workerd (workerd/entry.ts) and on
// Node (node/entry.ts); what differs by runtime is the Publisher handed in.
import { Hono } from "hono";
import { cors } from "hono/cors";
import type { CompiledRegistry } from "../../registry/compiled.ts";
import type { AppEnv } from "./context.ts";
import type { EdgeConfig } from "../config.ts";
import type { Publisher } from "../publish/publisher.ts";
import { KeyStore, RateLimiter } from "../auth/authenticate.ts";
import { checkHeaderSize, discardWebBody, readWebBody, type BodyDiscarder, type BodyReader } from "./request-limits.ts";
import { requestLog, type LogSink } from "./access-log.ts";
import { openapi } from "./openapi.ts";
import { EdgeError, errorToResponse, makeProblem, problemResponse } from "./problems.ts";
import { RegistryView } from "../events/schema-registry.ts";
import { registerEventRoutes } from "./routes-events.ts";
import { registerSchemaRoutes } from "./routes-schemas.ts";
import { registerTokenRoutes } from "./routes-tokens.ts";
import { registerSocketRoutes, type SocketAcceptor } from "./routes-sockets.ts";
import { registerDemoRoutes } from "./routes-demo.ts";

export interface AppDeps {
  registry: CompiledRegistry;
  publisher: Publisher;
  config: EdgeConfig;
  /** Where the per-request JSON line goes (default console.log). */
  log?: LogSink;
  /** How request bodies are read (default: the web Request's stream; Node has a faster path). */
  readBody?: BodyReader;
  /** How an unread rest of a body is dropped before answering (default: the web Request's stream). */
  discardBody?: BodyDiscarder;
  /** Clock for the rate limiter and token times (tests). */
  now?: () => number;
  /** Holds upgraded browser sockets (GET /v1/ws); without it the route is not served. */
  sockets?: SocketAcceptor;
  /** Prometheus text for GET /metrics (the Node edge); without it the route is not served. */
  metrics?: { contentType: string; text(): Promise<string> };
}

/** Headers a browser may send on a CORS POST (the preflight reflects only these). */
const CORS_ALLOWED_HEADERS = [
  "authorization",
  "content-type",
  "idempotency-key",
  "traceparent",
  "tracestate",
  "ce-specversion",
  "ce-id",
  "ce-source",
  "ce-type",
  "ce-subject",
  "ce-time",
  "ce-dataschema",
];

export function createApp(deps: AppDeps): Hono<AppEnv> {
  const { config } = deps;
  const registry = new RegistryView(deps.registry);
  const keys = new KeyStore(config.apiKeys);
  const limiter = new RateLimiter({ perSecond: config.rateLimitPerSecond, burst: config.rateLimitBurst }, deps.now);
  const app = new Hono<AppEnv>();
  const discardBody = deps.discardBody ?? discardWebBody;

  // Outermost, so it runs after every answer, refusals included (onError answers inside it): a
  // body left unread when the answer goes out gets the connection reset (request-limits.ts).
  app.use("*", async (c, next) => {
    await next();
    await discardBody(c.req.raw, c.env);
  });
  app.use("*", requestLog(config.logRequests, deps.log ?? ((line) => console.log(line))));
  app.use("*", async (c, next) => {
    checkHeaderSize(c.req.raw.headers, config.maxHeaderBytes);
    await next();
  });
  if (config.corsOrigins.length > 0) {
    const allowed = new Set(config.corsOrigins);
    app.use(
      "/v1/*",
      cors({
        origin: (origin) => (allowed.has(origin) ? origin : null),
        allowMethods: ["GET", "POST", "OPTIONS"],
        allowHeaders: CORS_ALLOWED_HEADERS,
        exposeHeaders: ["retry-after", "etag"],
        maxAge: 600,
      }),
    );
  }

  app.get("/livez", (c) => c.json({ ok: true }));
  app.get("/healthz", async (c) => {
    const broker = await deps.publisher.health();
    return c.json({ ok: broker.reachable, broker }, broker.reachable ? 200 : 503);
  });
  const metrics = deps.metrics;
  if (metrics) app.get("/metrics", async (c) => c.body(await metrics.text(), 200, { "content-type": metrics.contentType }));
  app.get("/v1/openapi.json", (c) => c.json(openapi));
  registerSchemaRoutes(app, registry);
  registerEventRoutes(app, { config, keys, limiter, registry, publisher: deps.publisher, readBody: deps.readBody ?? readWebBody });
  const now = deps.now ?? (() => Date.now());
  registerTokenRoutes(app, { config, keys, limiter, readBody: deps.readBody ?? readWebBody, now });
  if (deps.sockets) registerSocketRoutes(app, { config, sockets: deps.sockets, now });
  if (config.demoPage) registerDemoRoutes(app, registry);
  answerOtherMethods(app);

  app.notFound((c) => problemResponse(makeProblem("NOT_FOUND", `no route for ${c.req.method} ${c.req.path}`)));
  app.onError((err, c) => {
    if (!(err instanceof EdgeError)) console.error(JSON.stringify({ msg: "unhandled", path: c.req.path, error: String(err), stack: (err as Error).stack }));
    return errorToResponse(err);
  });
  return app;
}

/**
 * A route that exists but not for this method answers 405 with the methods it has (RFC 9110
 * §15.5.6: a 405 carries Allow), read from the routes registered above, so this list cannot drift
 * from them. GET routes also answer HEAD (Hono serves HEAD from the GET handler).
 */
function answerOtherMethods(app: Hono<AppEnv>): void {
  const allowed = new Map<string, Set<string>>();
  for (const { path, method } of app.routes) {
    if (method === "ALL" || path === "*" || path.endsWith("/*")) continue;
    const methods = allowed.get(path) ?? new Set<string>();
    methods.add(method);
    if (method === "GET") methods.add("HEAD");
    allowed.set(path, methods);
  }
  for (const [path, methods] of allowed) {
    const allow = [...methods].join(", ");
    app.all(path, (c) => {
      throw new EdgeError("METHOD_NOT_ALLOWED", `${c.req.method} is not allowed on ${c.req.routePath}; allowed: ${allow}`, {}, { allow });
    });
  }
}
