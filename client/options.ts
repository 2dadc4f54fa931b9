// What a caller hands the client and what it hears back: the options with their defaults, the
// status changes, and the shape of an event to publish.
import type { Backoff } from "./backoff.ts";
import type { ReadyFrame } from "./frames.ts";
import type { WebSocketConstructor } from "./socket.ts";

export type ConnectionStatus = "connecting" | "open" | "reconnecting" | "closed";

export interface StatusChange {
  status: ConnectionStatus;
  /** Failed attempts since the last open connection (connecting, reconnecting). */
  attempt?: number;
  /** reconnecting: when the next attempt starts. */
  retryInMs?: number;
  /** reconnecting, closed: the close code and reason of the socket that ended. */
  code?: number;
  reason?: string;
  /** reconnecting: why the attempt failed before a socket existed (the token fetcher threw). */
  error?: unknown;
  /** open: the edge's `ready` frame. */
  ready?: ReadyFrame;
}

export interface JetgateClientOptions {
  /** The edge's WebSocket URL, e.g. `wss://events.example.com/v1/ws`. */
  url: string;
  /** Called before every connection: a fresh browser token (from POST /v1/tokens, via your backend). */
  token: () => Promise<string>;
  /** Reconnect schedule; DEFAULT_BACKOFF for what is not given. */
  backoff?: Partial<Backoff>;
  onStatus?: (change: StatusChange) => void;
  /** `source` for events that bring none (CloudEvents requires one; the edge refuses an event without). */
  source?: string;
  /** The WebSocket class; default `globalThis.WebSocket`. */
  WebSocket?: WebSocketConstructor;
  /** A socket that has not sent `ready` by then is given up and tried again. */
  connectTimeoutMs?: number;
  /** A `ping` after this long without a frame; no frame back within as long again and the socket is given up. 0: never. */
  pingIntervalMs?: number;
}

export const CLIENT_DEFAULTS = { connectTimeoutMs: 10_000, pingIntervalMs: 30_000 } as const;

/** Event type → data type (a type alias or an interface, e.g. written by json-schema-to-typescript from schemas/). */
export type EventMap = Record<string, unknown>;

/** An event to publish: `specversion` defaults to "1.0", `id` to a random UUID, `source` to the client's. */
export type EventInput<T extends string = string, D = unknown> = {
  type: T;
  data?: D;
  id?: string;
  source?: string;
  specversion?: "1.0";
} & Record<string, unknown>;
