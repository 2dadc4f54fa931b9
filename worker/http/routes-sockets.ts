// GET /v1/ws: the WebSocket upgrade for browser apps (docs/browsers.md). Everything that can be
// refused is refused here, before the upgrade, as problem+json: not an upgrade (426), an Origin
// outside the allow-list (403), no token, a malformed, forged or expired one (401), a token for
// another Origin (403). What is left — holding the socket — differs by runtime and is the
// SocketAcceptor handed in (workerd: the socket hub Durable Object; Node: the ws server).
import type { Hono } from "hono";
import type { AppEnv } from "./context.ts";
import type { EdgeConfig } from "../config.ts";
import { authenticateBrowserToken, tokenFromProtocols, tokensNotConfigured } from "../auth/browser-tokens.ts";
import { EdgeError } from "./problems.ts";
import { SUBPROTOCOLS, type Subprotocol } from "../sockets/frames.ts";
import type { SocketGrant } from "../sockets/session.ts";

export interface SocketAcceptor {
  /** Completes the upgrade of `request` for `grant`: the 101 (workerd) or what the Node glue reads. */
  accept(request: Request, grant: SocketGrant): Promise<Response>;
}

interface SocketRouteDeps {
  config: EdgeConfig;
  sockets: SocketAcceptor;
  now: () => number;
}

/** The offered subprotocols (RFC 6455 §4.1: a comma-separated list of tokens). */
function offeredProtocols(header: string | undefined): string[] {
  return (header ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
}

/**
 * Browsers send Origin on every WebSocket handshake (RFC 6455 §4.1, §10.2): a page may open
 * sockets only from the edge's own origin or one in CORS_ORIGINS. A request without Origin is not
 * a browser's; it still needs a token, and a token bound to an origin refuses it.
 */
function checkOrigin(origin: string | undefined, requestUrl: string, allowed: string[]): void {
  if (origin === undefined) return;
  if (origin === new URL(requestUrl).origin || allowed.includes(origin)) return;
  throw new EdgeError("ORIGIN_NOT_ALLOWED", `the Origin ${origin} may not open sockets here; allowed: the edge's own origin${allowed.length ? ", " + allowed.join(", ") : ""}`);
}

function protocolOf(offered: string[]): Subprotocol {
  if (offered.includes(SUBPROTOCOLS.JETGATE)) return SUBPROTOCOLS.JETGATE;
  if (offered.includes(SUBPROTOCOLS.CLOUDEVENTS)) return SUBPROTOCOLS.CLOUDEVENTS;
  const named = offered.filter((p) => !p.startsWith("jetgate.token."));
  if (named.length > 0) {
    throw new EdgeError("MALFORMED_REQUEST", `none of the subprotocols ${named.join(", ")} is spoken here; offer ${SUBPROTOCOLS.JETGATE} or ${SUBPROTOCOLS.CLOUDEVENTS}`);
  }
  // Only a token, or nothing: the edge's own frames, and no protocol in the answer.
  return SUBPROTOCOLS.JETGATE;
}

export function registerSocketRoutes(app: Hono<AppEnv>, deps: SocketRouteDeps): void {
  app.get("/v1/ws", async (c) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      throw new EdgeError("UPGRADE_REQUIRED", "GET /v1/ws is a WebSocket: send Upgrade: websocket (docs/browsers.md)", {}, { upgrade: "websocket" });
    }
    const origin = c.req.header("origin");
    checkOrigin(origin, c.req.url, deps.config.corsOrigins);
    const header = c.req.header("sec-websocket-protocol");
    const protocol = protocolOf(offeredProtocols(header));
    if (deps.config.tokenSecret === undefined) throw tokensNotConfigured();
    const token = tokenFromProtocols(header) ?? c.req.query("token");
    if (token === undefined || token === "") {
      throw new EdgeError("TOKEN_INVALID", "no browser token: offer the subprotocol jetgate.token.<token> (or pass ?token=) from POST /v1/tokens");
    }
    const claims = await authenticateBrowserToken(token, origin, deps.config.tokenSecret, deps.now());
    c.get("facts").keyName = claims.sub;
    return deps.sockets.accept(c.req.raw, { claims, protocol });
  });
}
