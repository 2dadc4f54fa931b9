// One NATS connection and the JetStream publishes over it, shared by both publishers; only the
// `connect` function differs (wsconnect on workerd, transport-node on Node).
//
// Why fail fast while disconnected: nats-core buffers publishes during a reconnect and flushes
// them once it is back. A publish buffered now, answered 503 after its timeout, and flushed later
// would land in the stream although the client was told it did not — so while the link knows it
// is down it does not write at all, and answers UNAVAILABLE at once.
import type { NatsConnection, ConnectionOptions } from "@nats-io/nats-core";
import { natsHeadersOf } from "../../broker/index.ts";
import { AckError, AckInbox } from "./ack-inbox.ts";
import type { PublishAck, PublishOutcome, PublishRequest, PublisherHealth } from "./publisher.ts";

type Connect = (opts: ConnectionOptions) => Promise<NatsConnection>;

const LINK_DEFAULTS = {
  /** First-connect backoff: doubles from min to max while the broker stays unreachable. */
  CONNECT_BACKOFF_MIN_MS: 100,
  CONNECT_BACKOFF_MAX_MS: 2_000,
  CONNECT_TIMEOUT_MS: 2_000,
  RECONNECT_WAIT_MS: 250,
  RECONNECT_JITTER_MS: 100,
  HEALTH_TIMEOUT_MS: 1_000,
  /** Re-asks for an in-flight duplicate's seq after 5, 10, 20 … ms: at most ~2.5 s in all. */
  IN_FLIGHT_DUPLICATE_WAIT_MS: 5,
  IN_FLIGHT_DUPLICATE_RETRIES: 9,
} as const;

/**
 * A clustered nats-server (2.10+) marks a Nats-Msg-Id as seen as soon as its first copy is
 * proposed, before Raft commits it, and answers a repeat in that gap with `duplicate: true` and
 * seq 0: the original's seq is not known yet. Publishing the same message again once the first
 * copy is stored answers the real seq, and stores it if the first copy never made it — either
 * way the client gets a true answer instead of seq 0.
 */
function isInFlightDuplicate(ack: PublishAck): boolean {
  return ack.duplicate && ack.seq === 0;
}

interface BrokerLinkOptions {
  servers: string[];
  connect: Connect;
  publishTimeoutMs: number;
  /** Name shown in the server's connection list. */
  name: string;
  /** user + pass, or token; none for a broker without auth. */
  auth?: { user?: string; pass?: string; token?: string };
}

export class BrokerLink {
  private nc: NatsConnection | null = null;
  private acks: AckInbox | null = null;
  private connecting: Promise<void> | null = null;
  private connected = false;
  private nextAttemptMs = 0;
  private backoffMs: number = LINK_DEFAULTS.CONNECT_BACKOFF_MIN_MS;
  private lastError = "not connected yet";
  private closed = false;

  constructor(private readonly opts: BrokerLinkOptions) {}

  /** Connects if needed; resolves when connected, rejects while the broker is unreachable. */
  private async ensure(): Promise<AckInbox> {
    if (this.acks && this.connected) return this.acks;
    if (this.nc && !this.nc.isClosed()) throw new Error(`reconnecting to the broker (${this.lastError})`);
    if (!this.connecting) {
      if (Date.now() < this.nextAttemptMs) throw new Error(`broker unreachable (${this.lastError}); next attempt soon`);
      this.connecting = this.open().finally(() => {
        this.connecting = null;
      });
    }
    await this.connecting;
    if (!this.acks) throw new Error(this.lastError);
    return this.acks;
  }

  private async open(): Promise<void> {
    try {
      const nc = await this.opts.connect({
        ...this.opts.auth,
        servers: this.opts.servers,
        name: this.opts.name,
        timeout: LINK_DEFAULTS.CONNECT_TIMEOUT_MS,
        maxReconnectAttempts: -1,
        reconnectTimeWait: LINK_DEFAULTS.RECONNECT_WAIT_MS,
        reconnectJitter: LINK_DEFAULTS.RECONNECT_JITTER_MS,
        ignoreClusterUpdates: true,
        // nats-core would capture a stack trace up front for every request, for a timeout that
        // almost never happens (publishes take their acks through AckInbox, not requests).
        noAsyncTraces: true,
      });
      if (this.closed) {
        await nc.close();
        return;
      }
      this.nc = nc;
      this.acks = new AckInbox(nc, this.opts.publishTimeoutMs);
      this.connected = true;
      this.backoffMs = LINK_DEFAULTS.CONNECT_BACKOFF_MIN_MS;
      void this.watch(nc);
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
      this.nextAttemptMs = Date.now() + this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, LINK_DEFAULTS.CONNECT_BACKOFF_MAX_MS);
    }
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === "disconnect") {
        this.connected = false;
        this.lastError = `disconnected from ${status.server}`;
      } else if (status.type === "reconnect") {
        this.connected = true;
      } else if (status.type === "error") {
        this.lastError = status.error.message;
      }
    }
    // The iterator ends when the connection closes for good: forget it, the next call reconnects.
    if (this.nc === nc) {
      this.nc = null;
      this.acks?.close();
      this.acks = null;
      this.connected = false;
    }
  }

  async publishMany(requests: PublishRequest[]): Promise<PublishOutcome[]> {
    let acks: AckInbox;
    try {
      acks = await this.ensure();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return requests.map(() => ({ ok: false, code: "UNAVAILABLE", message }));
    }
    return Promise.all(requests.map((request) => this.publishOne(acks, request)));
  }

  private async publishOne(acks: AckInbox, request: PublishRequest): Promise<PublishOutcome> {
    if (!this.connected) return { ok: false, code: "UNAVAILABLE", message: `broker unreachable (${this.lastError})` };
    try {
      // Inside the try: a message nats-core refuses fails alone, not the whole shipment with it.
      const h = natsHeadersOf(request);
      let ack = await acks.publish(request.subject, request.data, h);
      for (let retry = 0; isInFlightDuplicate(ack); retry++) {
        if (retry >= LINK_DEFAULTS.IN_FLIGHT_DUPLICATE_RETRIES) {
          return { ok: false, code: "TIMEOUT", message: `the first copy of ${request.msgID} was not stored in time` };
        }
        await new Promise((resolve) => setTimeout(resolve, LINK_DEFAULTS.IN_FLIGHT_DUPLICATE_WAIT_MS * 2 ** retry));
        ack = await acks.publish(request.subject, request.data, h);
      }
      return { ok: true, ack };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (err instanceof AckError && err.code === "TIMEOUT") return { ok: false, code: "TIMEOUT", message };
      return { ok: false, code: "UNAVAILABLE", message };
    }
  }

  async health(): Promise<PublisherHealth> {
    try {
      await this.ensure();
      const nc = this.nc!;
      const rtt = await Promise.race([
        nc.rtt(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no PONG in time")), LINK_DEFAULTS.HEALTH_TIMEOUT_MS)),
      ]);
      return { reachable: true, detail: `connected to ${nc.getServer()}, rtt ${rtt.toFixed(1)} ms` };
    } catch (err) {
      return { reachable: false, detail: err instanceof Error ? err.message : String(err) };
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const nc = this.nc;
    this.nc = null;
    this.acks?.close();
    this.acks = null;
    this.connected = false;
    await nc?.close().catch(() => undefined);
  }
}
