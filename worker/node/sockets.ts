// Browser sockets on the Node edge: node:http hands an upgrade request to the 'upgrade' event,
// not to the app, so this glue runs the app on it first (GET /v1/ws checks the Origin and the
// token and refuses with problem+json before anything is upgraded), then completes the handshake
// with `ws` and gives the socket a SocketSession. The events come from one NATS connection of the
// process's own (JetStreamFeed), apart from the publisher's.
import { STATUS_CODES, type IncomingMessage, type Server } from "node:http";
import type { Duplex } from "node:stream";
import { connect } from "@nats-io/transport-node";
import { WebSocketServer, type WebSocket } from "ws";
import type { Hono } from "hono";
import type { AppEnv } from "../http/context.ts";
import type { EdgeConfig } from "../config.ts";
import type { SocketAcceptor } from "../http/routes-sockets.ts";
import type { RegistryView } from "../events/schema-registry.ts";
import type { Publisher } from "../publish/publisher.ts";
import { JetStreamFeed } from "../sockets/feed.ts";
import { RateLimiter } from "../auth/authenticate.ts";
import { CLOSE, SUBPROTOCOLS } from "../sockets/frames.ts";
import { sessionLimits, SocketSession, type SocketGrant } from "../sockets/session.ts";
import { SocketTally, type SocketStats } from "../sockets/stats.ts";
import type { LogSink } from "../http/access-log.ts";

interface NodeSocketsDeps {
  config: EdgeConfig;
  registry: RegistryView;
  publisher: Publisher;
  stats: SocketStats;
  log?: LogSink;
}

export class NodeSockets {
  /** Upgrades the route accepted, waiting for the glue to complete them. */
  private readonly granted = new WeakMap<Request, SocketGrant>();
  private readonly wss: WebSocketServer;
  private readonly sessions = new Set<SocketSession>();
  private readonly feed: JetStreamFeed;
  private readonly limiter: RateLimiter;

  readonly acceptor: SocketAcceptor = {
    accept: async (request, grant) => {
      this.granted.set(request, grant);
      return new Response(null, { status: 204 });
    },
  };

  constructor(private readonly deps: NodeSocketsDeps) {
    // ws closes a frame over maxPayload with 1009 itself (RFC 6455 §7.4.1), before reading it whole.
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: deps.config.maxEventBytes,
      perMessageDeflate: false,
      // Answer with the protocol the route chose, never with the token (jetgate.token.<token>).
      handleProtocols: (offered) => (offered.has(SUBPROTOCOLS.JETGATE) ? SUBPROTOCOLS.JETGATE : offered.has(SUBPROTOCOLS.CLOUDEVENTS) ? SUBPROTOCOLS.CLOUDEVENTS : false),
    });
    const { natsUrls, natsAuth } = deps.config;
    this.limiter = new RateLimiter({ perSecond: deps.config.rateLimitPerSecond, burst: deps.config.rateLimitBurst });
    this.feed = new JetStreamFeed(() =>
      connect({ ...natsAuth, servers: natsUrls, name: "jetgate-edge-node-sockets", maxReconnectAttempts: -1, reconnectTimeWait: 250 }),
    );
  }

  /** Serves upgrades on `server` through `app` (its GET /v1/ws decides). */
  attach(server: Server, app: Hono<AppEnv>): void {
    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      void this.upgrade(app, req, socket, head).catch(() => socket.destroy());
    });
  }

  private async upgrade(app: Hono<AppEnv>, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const headers = new Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    const request = new Request(`http://${req.headers.host ?? "localhost"}${req.url ?? "/"}`, { method: req.method, headers });
    const response = await app.fetch(request, {});
    const grant = this.granted.get(request);
    if (!grant || response.status !== 204) return writeResponse(socket, response);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.open(ws, grant));
  }

  private open(ws: WebSocket, grant: SocketGrant): void {
    const { config, registry, publisher, log } = this.deps;
    const tally = new SocketTally(this.deps.stats);
    const session = new SocketSession(
      { send: (text) => ws.send(text), close: (code, reason) => ws.close(code, reason), bufferedBytes: () => ws.bufferedAmount },
      grant,
      {
        registry,
        publisher,
        feed: this.feed,
        limits: sessionLimits(config),
        stats: tally,
        now: () => Date.now(),
        limiter: this.limiter,
      },
    );
    this.sessions.add(session);
    ws.on("message", (data, isBinary) => {
      void session.onMessage(isBinary ? new Uint8Array(data as Buffer) : (data as Buffer).toString("utf8"));
    });
    ws.on("close", (code) => {
      session.onClose(code);
      this.sessions.delete(session);
      if (config.logRequests) log?.(JSON.stringify({ msg: "socket closed", time: new Date().toISOString(), sub: grant.claims.sub, jti: grant.claims.jti, code, ...tally.summary() }));
    });
    // ws has already sent the close frame that fits the error (1009 for a frame over maxPayload).
    ws.on("error", () => undefined);
    session.start();
  }

  /** Closes every socket with 1001 (going away) and the feed's connection. */
  async close(): Promise<void> {
    for (const session of this.sessions) session.close(CLOSE.GOING_AWAY, "the edge is shutting down; reconnect and resume");
    this.sessions.clear();
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    await this.feed.close();
  }
}

/** The app's refusal, written as the HTTP/1.1 answer to the upgrade request, then the socket closed. */
async function writeResponse(socket: Duplex, response: Response): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer());
  const lines = [`HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? ""}`];
  response.headers.forEach((value, name) => {
    if (name !== "content-length" && name !== "connection") lines.push(`${name}: ${value}`);
  });
  lines.push(`content-length: ${body.length}`, "connection: close", "", "");
  socket.end(Buffer.concat([Buffer.from(lines.join("\r\n")), body]));
}
