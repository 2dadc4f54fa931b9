// What the edge and the browser client (client/) must agree on about GET /v1/ws beyond the frames'
// JSON: the subprotocol names, how the token travels, the close codes (docs/browsers.md). Written
// once here and imported by both; no imports of its own, so the client's bundle takes only this.

/** The browser sends its token as this prefix + the token, beside `jetgate.v1`, in Sec-WebSocket-Protocol. */
export const TOKEN_PROTOCOL_PREFIX = "jetgate.token.";

/** The subprotocols the edge speaks, in Sec-WebSocket-Protocol (RFC 6455 §1.9). */
export const SUBPROTOCOLS = {
  /** Jetgate's own frames: publish with acks, subscribe, unsubscribe, ping. */
  JETGATE: "jetgate.v1",
  /** The CloudEvents WebSocket binding: each message one structured event; publish only. */
  CLOUDEVENTS: "cloudevents.json",
} as const;

export type Subprotocol = (typeof SUBPROTOCOLS)[keyof typeof SUBPROTOCOLS];

/** Close codes (RFC 6455 §7.4.1, and IANA's registry for 1013). */
export const CLOSE = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  /** Policy violation: the token expired while the socket was open. */
  TOKEN_EXPIRED: 1008,
  /** Message too big. */
  TOO_BIG: 1009,
  INTERNAL: 1011,
  /** Service restart: the workerd hub lost its subscriptions' feeds while the runtime kept the socket. */
  SERVICE_RESTART: 1012,
  /** Try again later: the socket fell behind (slow consumer). */
  SLOW_CONSUMER: 1013,
} as const;
