// Browser sockets on workerd (DESIGN.md decision 13). A Worker cannot hold a socket past its
// request, so the Worker checks the upgrade (routes-sockets.ts: Origin, token) and hands it to a
// SocketHub Durable Object, which accepts it with the WebSocket Hibernation API: the runtime
// holds the socket, and the object is woken for its frames, so a socket that only publishes now
// and then costs nothing while idle. Publishes go through the same publisher shards as HTTPS
// (DurablePublisher); subscriptions read JetStream through one NATS connection per hub
// (JetStreamFeed). Sockets are spread over SOCKET_HUB_SHARDS hubs by their token's id.
//
// A hub with an open subscription keeps its NATS connection and so stays awake; it lets the
// connection go when its last subscription ends, and hibernates after that. A hub woken from
// hibernation finds its sockets' grants in their attachments and rebuilds their sessions. A hub
// that was evicted anyway (a deploy, the runtime's choice) has lost its feeds while the runtime
// kept the sockets open: a socket whose attachment says it had subscriptions is closed with 1012
// (service restart), so its client resumes from its last seq instead of silently hearing nothing.
import { DurableObject, type DurableObjectNamespace, type DurableObjectState, type WorkerdWebSocket } from "cloudflare:workers";
import { wsconnect } from "@nats-io/nats-core";
import * as registry from "jetgate-registry";
import { parseConfig, type EdgeConfig } from "../config.ts";
import { RegistryView } from "../events/schema-registry.ts";
import type { SocketAcceptor } from "../http/routes-sockets.ts";
import { shardOf } from "../publish/publisher.ts";
import { JetStreamFeed } from "../sockets/feed.ts";
import { RateLimiter } from "../auth/authenticate.ts";
import { CLOSE } from "../sockets/frames.ts";
import { sessionLimits, SocketSession, type SocketGrant } from "../sockets/session.ts";
import { SocketTally } from "../sockets/stats.ts";
import { DurablePublisher, varsOf, type WorkerEnv } from "./publisher-do.ts";

/** Carries the checked grant from the Worker to its hub; only the Worker can reach a hub, never a client. */
const GRANT_HEADER = "jetgate-socket-grant";

declare const WebSocketPair: { new (): { 0: WorkerdWebSocket; 1: WorkerdWebSocket } };

interface Attachment {
  grant: SocketGrant;
  /** Open subscriptions when last recorded: their feeds live in memory and do not survive an eviction. */
  subscriptions: number;
}

interface Held {
  session: SocketSession;
  tally: SocketTally;
  grant: SocketGrant;
}

export class SocketHub extends DurableObject<WorkerEnv> {
  private readonly config: EdgeConfig;
  private readonly registry = new RegistryView(registry);
  private readonly publisher: DurablePublisher;
  private readonly feed: JetStreamFeed;
  private readonly limiter: RateLimiter;
  private readonly held = new Map<WorkerdWebSocket, Held>();

  constructor(ctx: DurableObjectState, env: WorkerEnv) {
    super(ctx, env);
    this.config = parseConfig(varsOf(env), "NATS_WS_URLS");
    this.limiter = new RateLimiter({ perSecond: this.config.rateLimitPerSecond, burst: this.config.rateLimitBurst });
    this.publisher = new DurablePublisher(env.PUBLISHER, this.config.publisherShards, this.config.publishTimeoutMs);
    const { natsUrls, natsAuth } = this.config;
    const name = `jetgate-edge-sockets-${ctx.id.name ?? ctx.id.toString()}`;
    this.feed = new JetStreamFeed(() => wsconnect({ ...natsAuth, servers: natsUrls, name, maxReconnectAttempts: -1, reconnectTimeWait: 250 }));
  }

  async fetch(request: Request): Promise<Response> {
    const grant = JSON.parse(request.headers.get(GRANT_HEADER) ?? "null") as SocketGrant | null;
    if (!grant) return new Response("a socket hub is reached through GET /v1/ws only", { status: 400 });
    const pair = new WebSocketPair();
    const client = pair[0];
    const server = pair[1];
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment({ grant, subscriptions: 0 } satisfies Attachment);
    this.hold(server, grant).session.start();
    // Answer with the chosen subprotocol only when the client offered it (RFC 6455 §4.2.2); never the token.
    const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
    const headers: Record<string, string> = offered.includes(grant.protocol) ? { "sec-websocket-protocol": grant.protocol } : {};
    return new Response(null, { status: 101, webSocket: client, headers } as ResponseInit);
  }

  async webSocketMessage(ws: WorkerdWebSocket, message: string | ArrayBuffer): Promise<void> {
    // Not awaited: a publish waits for its ack while the socket's next frames are read, as on Node.
    this.ctx.waitUntil(this.heldOf(ws).session.onMessage(message));
  }

  async webSocketClose(ws: WorkerdWebSocket, code: number, reason: string): Promise<void> {
    this.release(ws, code);
    try {
      // Complete the closing handshake (RFC 6455 §5.5.1); 1005/1006 are never sent on the wire.
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // Already closed.
    }
  }

  async webSocketError(ws: WorkerdWebSocket): Promise<void> {
    this.release(ws, 1011);
  }

  private hold(ws: WorkerdWebSocket, grant: SocketGrant): Held {
    const { config } = this;
    const tally = new SocketTally();
    const session = new SocketSession(
      {
        send: (text) => ws.send(text),
        close: (code, reason) => {
          ws.close(code, reason);
          this.release(ws, code);
        },
      },
      grant,
      {
        registry: this.registry,
        publisher: this.publisher,
        feed: this.feed,
        limits: sessionLimits(config),
        stats: tally,
        now: () => Date.now(),
        limiter: this.limiter,
        onSubscriptions: (subscriptions) => {
          try {
            ws.serializeAttachment({ grant, subscriptions } satisfies Attachment);
          } catch {
            // The socket is already closed: nothing to record.
          }
        },
      },
    );
    const held = { session, tally, grant };
    this.held.set(ws, held);
    return held;
  }

  /** The session of a socket, rebuilt from its attachment when the hub woke from hibernation. */
  private heldOf(ws: WorkerdWebSocket): Held {
    const known = this.held.get(ws);
    if (known) return known;
    const { grant, subscriptions } = ws.deserializeAttachment() as Attachment;
    const held = this.hold(ws, grant);
    if (subscriptions > 0) held.session.close(CLOSE.SERVICE_RESTART, "the socket hub restarted: resume each subscription from its last seq + 1");
    return held;
  }

  private release(ws: WorkerdWebSocket, code: number): void {
    const held = this.held.get(ws);
    if (!held) return;
    this.held.delete(ws);
    held.session.onClose(code);
    if (this.config.logRequests) {
      const { sub, jti } = held.grant.claims;
      console.log(JSON.stringify({ msg: "socket closed", time: new Date().toISOString(), sub, jti, code, ...held.tally.summary() }));
    }
    // No subscription left: let the NATS connection go, so the hub can hibernate.
    if (![...this.held.values()].some((h) => h.session.positions().length > 0)) void this.feed.close();
  }
}

/** The Worker's side: hands each checked upgrade to its hub, by the token's id. */
export class HubAcceptor implements SocketAcceptor {
  constructor(
    private readonly namespace: DurableObjectNamespace<unknown>,
    private readonly shards: number,
  ) {}

  async accept(request: Request, grant: SocketGrant): Promise<Response> {
    const id = this.namespace.idFromName(`sockets-${shardOf(grant.claims.jti, this.shards)}`);
    const forwarded = new Request(request.url, { method: "GET", headers: request.headers });
    forwarded.headers.set(GRANT_HEADER, JSON.stringify(grant));
    return this.namespace.get(id).fetch(forwarded);
  }
}
