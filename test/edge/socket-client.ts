// Shared by the socket suites (sockets-*.test.ts): browser tokens signed here with node:crypto,
// independently of worker/auth/browser-tokens.ts (the format is docs/browsers.md's and
// tokens.test.ts's: `v1.<base64url claims>.<base64url HMAC-SHA256 of "v1.<claims>">`), a `ws`
// client that keeps every frame it received and waits for one with a deadline and a name, and a
// reader of the EVENTS stream's types by seq. Every ack a client receives goes into the suite's
// Ledger, so the files end with "the stream holds exactly the events that were acked".
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import WebSocket from "ws";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { EVENTS_STREAM, eventTypeOfSubject } from "../../broker/index.ts";
import type { BrowserTokenClaims } from "../../worker/auth/browser-tokens.ts";
import type { Ledger } from "./helpers.ts";

/** TOKEN_SECRET of the socket suites: at least 32 bytes, as config.ts requires. */
export const SOCKET_SECRET = "socket-suites-secret-of-at-least-32-bytes";

export const PROBLEMS = "https://jetgate.dev/problems/";

/** The claims a token signs (only the type comes from the module; the tests sign apart from it). */
export type TokenClaims = BrowserTokenClaims;

/** A browser token over `claims`; `ttl` seconds from now unless exp is given. */
export function signToken(claims: Partial<TokenClaims> & { ttl?: number } = {}, secret = SOCKET_SECRET): string {
  const iat = claims.iat ?? Math.floor(Date.now() / 1000);
  const { ttl = 600, ...rest } = claims;
  const full: TokenClaims = { sub: "browser", publish: ["**"], subscribe: ["**"], jti: randomBytes(16).toString("base64url"), ...rest, iat, exp: claims.exp ?? iat + ttl };
  const payload = `v1.${Buffer.from(JSON.stringify(full)).toString("base64url")}`;
  return `${payload}.${createHmac("sha256", secret).update(payload).digest("base64url")}`;
}

/** The token with one character of its signature changed (still canonical base64url: a middle one). */
export function forge(token: string): string {
  const at = token.lastIndexOf(".") + 5;
  const swapped = token[at] === "A" ? "B" : "A";
  return token.slice(0, at) + swapped + token.slice(at + 1);
}

export type Rid = string | number;

/**
 * On a cluster, the first pull of a new ordered consumer can reach the edge's NATS server before
 * the consumer's interest does (route pooling), answered 503 no-responders; nats.js's consume()
 * then waits for two missed idle heartbeats before it pulls again. The feed replaces such a
 * consumer at once (feed.ts FIRST_PULL_RETRIES), and anything else of the kind heals after two
 * missed heartbeats (FEED_IDLE_HEARTBEAT_MS: ~4 s); nothing is lost. Waits for a subscription's
 * events allow for that, with room for a loaded machine.
 */
export const FIRST_PULL_STALL_MS = 15_000;

const opened = new Set<SocketClient>();

/** Every frame any SocketClient of this process received, for the suites' final check against the OpenAPI document. */
export const receivedFrames: Frame[] = [];

/** Closes every socket connectSocket opened and that is still open (for afterEach). */
export async function closeAllSockets(): Promise<void> {
  await Promise.allSettled([...opened].map((client) => client.close()));
  opened.clear();
}

/** A frame from the edge, as JSON. */
export interface Frame {
  op: string;
  rid?: Rid;
  [field: string]: any;
}

export interface ConnectOptions {
  token?: string;
  /** Offered subprotocols besides the token's (default jetgate.v1). */
  protocols?: string[];
  origin?: string;
  /** Appended to /v1/ws, e.g. `?token=…`. */
  query?: string;
  /** Every ack received is noted here. */
  ledger?: Ledger;
  timeoutMs?: number;
}

/** The edge's answer to an upgrade it refused. */
export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly headers: IncomingMessage["headers"],
    readonly body: any,
  ) {
    super(`the upgrade was refused with ${status}: ${JSON.stringify(body)}`);
  }
}

export function wsUrl(httpUrl: string, query = ""): string {
  return httpUrl.replace(/^http/, "ws") + "/v1/ws" + query;
}

/** An open socket: every frame it received, in order, and waits for more. */
export class SocketClient {
  readonly frames: Frame[] = [];
  /** The handshake's answer headers (Sec-WebSocket-Protocol among them). */
  upgradeHeaders: IncomingMessage["headers"] = {};
  closeEvent: { code: number; reason: string } | null = null;
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly ws: WebSocket,
    private readonly ledger?: Ledger,
  ) {
    ws.on("message", (data, isBinary) => {
      assert.equal(isBinary, false, "the edge sends text frames only");
      const frame = JSON.parse(data.toString()) as Frame;
      this.frames.push(frame);
      receivedFrames.push(frame);
      if (frame.op === "ack") this.ledger?.note(frame as unknown as { id: string; seq: number; duplicate: boolean });
      this.notify();
    });
    ws.on("close", (code, reason) => {
      this.closeEvent = { code, reason: reason.toString() };
      this.notify();
    });
    ws.on("error", () => undefined);
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }

  /** The ready frame, the first the edge sends. */
  get ready(): Frame {
    return this.frames[0]!;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /**
   * Sends every frame in one write (the socket corked), so the edge reads them together: none of
   * their answers can come back in between. That is what "more publishes at once than the limit" means.
   */
  sendAtOnce(frames: unknown[]): void {
    const socket = (this.ws as unknown as { _socket: Socket })._socket;
    socket.cork();
    for (const frame of frames) this.send(frame);
    socket.uncork();
  }

  /** Resolves with `probe`'s first defined value; fails naming `what` at the deadline or when the socket closes first. */
  waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = () => {
        let value: T | undefined;
        try {
          value = probe();
        } catch (err) {
          return done(() => reject(err));
        }
        if (value !== undefined) return done(() => resolve(value));
        if (this.closeEvent) done(() => reject(new Error(`the socket closed (${this.closeEvent!.code} ${this.closeEvent!.reason}) before ${what}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last frames: ${JSON.stringify(this.frames.slice(-3))}`))), timeoutMs);
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        settle();
      };
      this.listeners.add(check);
      check();
    });
  }

  /** The answers (every frame but events) that carry `rid`. */
  repliesTo(rid: Rid): Frame[] {
    return this.frames.filter((f) => f.op !== "event" && f.rid === rid);
  }

  /** The first answer carrying `rid` among the frames from index `from` on. */
  reply(rid: Rid, timeoutMs?: number, from = 0): Promise<Frame> {
    return this.waitFor(`the answer to rid ${JSON.stringify(rid)}`, () => this.frames.slice(from).find((f) => f.op !== "event" && f.rid === rid), timeoutMs);
  }

  /** Sends a frame with a rid and resolves with the answer to it (the first with its rid received after sending). */
  async request(frame: { rid: Rid } & Record<string, unknown>, timeoutMs?: number): Promise<Frame> {
    const from = this.frames.length;
    this.send(frame);
    return this.reply(frame.rid, timeoutMs, from);
  }

  /** The answer to a frame without a usable rid: the first problem frame without one after index `from`. */
  ridlessProblem(from: number, timeoutMs?: number): Promise<Frame> {
    return this.waitFor("a problem frame without a rid", () => this.frames.slice(from).find((f) => f.op === "problem" && f.rid === undefined), timeoutMs);
  }

  /** Round trip: the socket is open and reading frames. */
  async ping(rid: Rid): Promise<void> {
    const pong = await this.request({ op: "ping", rid });
    assert.deepEqual(pong, { op: "pong", rid });
  }

  /** The events of subscription `rid`, in the order received. */
  events(rid: Rid): Frame[] {
    return this.frames.filter((f) => f.op === "event" && f.rid === rid);
  }

  seqs(rid: Rid): number[] {
    return this.events(rid).map((f) => f.seq as number);
  }

  /**
   * Waits until subscription `rid` has received an event with seq ≥ `seq`. The default deadline
   * outlasts the stall of a subscription whose first pull was lost (see FIRST_PULL_STALL_MS).
   */
  untilSeq(rid: Rid, seq: number, timeoutMs = FIRST_PULL_STALL_MS + 60_000): Promise<Frame[]> {
    return this.waitFor(`subscription ${JSON.stringify(rid)} to receive seq ${seq}`, () => (this.events(rid).some((e) => e.seq >= seq) ? this.events(rid) : undefined), timeoutMs);
  }

  /** Waits for the edge to close the socket. */
  closed(what: string, timeoutMs = 30_000): Promise<{ code: number; reason: string }> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!this.closeEvent) return;
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve(this.closeEvent);
      };
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.listeners.add(check);
      check();
    });
  }

  /** Closes from the client's side and waits for the close to finish. */
  async close(): Promise<void> {
    if (this.closeEvent) return;
    this.ws.close(1000);
    await this.closed("the socket to close after the client closed it").catch(() => this.ws.terminate());
  }
}

/** Opens /v1/ws and waits for the ready frame; an upgrade refusal rejects with UpgradeRefused. */
export function connectSocket(httpUrl: string, opts: ConnectOptions = {}): Promise<SocketClient> {
  const protocols = [...(opts.protocols ?? ["jetgate.v1"]), ...(opts.token ? [`jetgate.token.${opts.token}`] : [])];
  const ws = new WebSocket(wsUrl(httpUrl, opts.query), protocols, {
    ...(opts.origin ? { origin: opts.origin } : {}),
    perMessageDeflate: false,
    handshakeTimeout: opts.timeoutMs ?? 30_000,
  });
  const client = new SocketClient(ws, opts.ledger);
  opened.add(client);
  return new Promise<SocketClient>((resolve, reject) => {
    ws.once("upgrade", (res) => {
      client.upgradeHeaders = res.headers;
    });
    ws.once("unexpected-response", (_req, res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: kept as text for the failure message
        }
        reject(new UpgradeRefused(res.statusCode ?? 0, res.headers, body));
        ws.terminate();
      });
    });
    ws.once("error", (err) => reject(err));
    ws.once("open", () => {
      client
        .waitFor("the ready frame", () => (client.frames[0]?.op === "ready" ? client.frames[0] : client.frames[0] ? assert.fail(`the first frame is ${JSON.stringify(client.frames[0])}`) : undefined), opts.timeoutMs)
        .then(() => resolve(client), reject);
    });
  });
}

/** The upgrade must be refused: its answer. */
export async function refusedUpgrade(httpUrl: string, opts: ConnectOptions = {}): Promise<UpgradeRefused> {
  try {
    const client = await connectSocket(httpUrl, opts);
    await client.close();
  } catch (err) {
    if (err instanceof UpgradeRefused) return err;
    throw err;
  }
  assert.fail("the upgrade was accepted");
}

/** A refusal is problem+json of `kind` with `status`. */
export function assertRefusal(refusal: UpgradeRefused, status: number, kind: string): void {
  assert.equal(refusal.status, status, `expected ${status} ${kind}, got ${refusal.status} ${JSON.stringify(refusal.body)}`);
  assert.equal(refusal.headers["content-type"], "application/problem+json");
  assert.equal(refusal.body.type, PROBLEMS + kind);
  assert.equal(refusal.body.status, status);
}

/** A problem frame of `kind` with `status` for `rid`. */
export function assertProblemFrame(frame: Frame, kind: string, status: number, rid?: Rid): void {
  assert.equal(frame.op, "problem", `expected a ${kind} problem, got ${JSON.stringify(frame)}`);
  if (rid !== undefined) assert.equal(frame.rid, rid);
  assert.equal(frame.problem.type, PROBLEMS + kind, JSON.stringify(frame));
  assert.equal(frame.problem.status, status);
}

let counter = 0;

/** A structured CloudEvent with a fresh id. */
export function structuredEvent(type: string, data: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { specversion: "1.0", id: `ws-${process.pid}-${Date.now()}-${++counter}`, source: "/socket-tests", type, data, ...extra };
}

/** The type of every message in EVENTS with seq in [from, to], in stream order. */
export async function storedTypes(nc: NatsConnection, from: number, to: number): Promise<Array<{ seq: number; type: string }>> {
  const jsm = await jetstreamManager(nc);
  const out: Array<{ seq: number; type: string }> = [];
  for (let seq = from; seq <= to; seq++) {
    const msg = await jsm.streams.getMessage(EVENTS_STREAM, { seq }).catch(() => null);
    if (msg) out.push({ seq, type: eventTypeOfSubject(msg.subject) });
  }
  return out;
}

/** The stream's last seq now (0 when empty). */
export async function lastSeq(nc: NatsConnection): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info(EVENTS_STREAM)).state.last_seq;
}
