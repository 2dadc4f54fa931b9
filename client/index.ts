// The browser client of Jetgate's WebSocket protocol (docs/browsers.md; usage in client/README.md).
// TypeScript, ESM, no dependencies and no framework: it needs only a WebSocket, fetch for your
// token fetcher, and crypto.getRandomValues. Everything a page imports comes from here.
export { JetgateClient } from "./client.ts";
export { CLIENT_DEFAULTS } from "./options.ts";
export type { JetgateClientOptions, ConnectionStatus, StatusChange, EventMap, EventInput } from "./options.ts";
export type { SocketLike, WebSocketConstructor } from "./socket.ts";
export type { Subscription, SubscribeOptions, EventHandler } from "./subscriptions.ts";
export { ProblemError, ClientError, CLIENT_ERROR_CODES, type ClientErrorCode } from "./errors.ts";
export { DEFAULT_BACKOFF, backoffDelay, type Backoff } from "./backoff.ts";
export { PROTOCOL, TOKEN_PROTOCOL_PREFIX, CLOSE_CODES } from "./frames.ts";
export type {
  Ack,
  CloudEvent,
  From,
  Problem,
  ProblemSchemaError,
  Rid,
  ClientFrame,
  PublishFrame,
  SubscribeFrame,
  UnsubscribeFrame,
  PingFrame,
  ServerFrame,
  ReadyFrame,
  AckFrame,
  ProblemFrame,
  SubscribedFrame,
  EventFrame,
  UnsubscribedFrame,
  PongFrame,
} from "./frames.ts";
