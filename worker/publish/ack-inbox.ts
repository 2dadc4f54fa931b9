// JetStream publishes whose acks come back on one wildcard inbox subscription.
//
// A JetStream publish is a core publish with a reply subject; the stream answers there with its
// PubAck. `js.publish()` makes that a full nats-core request per message: a per-message timer,
// and an Error built (with a stack trace) both up front and again when the request is cleaned
// up. Profiles of the edge put that bookkeeping at ~15% of a Publisher Durable Object's CPU,
// more than the publish itself. Here one subscription on `<inbox>.*` serves every publish, a
// token per message picks its waiter, and one sweeper timer fails the overdue ones.
import { createInbox, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/nats-core";
import type { PublishAck } from "./publisher.ts";

/** Why a publish has no PubAck: the stream refused it, no stream listens, or no answer in time. */
export class AckError extends Error {
  override readonly name = "AckError";
  constructor(
    readonly code: "TIMEOUT" | "NO_STREAM" | "REFUSED",
    message: string,
  ) {
    super(message);
  }
}

interface Waiter {
  resolve(ack: PublishAck): void;
  reject(err: AckError): void;
  deadline: number;
}

const decoder = new TextDecoder();

/** Status a server sends on the reply subject when no stream captures the subject. */
const NO_RESPONDERS = 503;

export class AckInbox {
  private readonly prefix: string;
  private readonly sub: Subscription;
  private readonly waiting = new Map<string, Waiter>();
  private next = 0;
  private sweeper: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {
    this.prefix = `${createInbox()}.`;
    this.sub = nc.subscribe(`${this.prefix}*`, { callback: (err, msg) => (err ? this.failAll(err.message) : this.settle(msg.subject, msg.data, msg.headers)) });
  }

  /** Publishes `data` to `subject` (Nats-Msg-Id and other headers already set) and awaits its PubAck. */
  publish(subject: string, data: Uint8Array, headers: MsgHdrs): Promise<PublishAck> {
    const token = (this.next++).toString(36);
    return new Promise<PublishAck>((resolve, reject) => {
      this.waiting.set(token, { resolve, reject, deadline: Date.now() + this.timeoutMs });
      this.sweepLater();
      try {
        this.nc.publish(subject, data, { reply: this.prefix + token, headers });
      } catch (err) {
        this.waiting.delete(token);
        reject(new AckError("REFUSED", err instanceof Error ? err.message : String(err)));
      }
    });
  }

  private settle(subject: string, data: Uint8Array, headers: MsgHdrs | undefined): void {
    const token = subject.slice(this.prefix.length);
    const waiter = this.waiting.get(token);
    if (!waiter) return; // answered after its timeout: the client was already told 503
    this.waiting.delete(token);
    if (headers?.code === NO_RESPONDERS && data.byteLength === 0) {
      waiter.reject(new AckError("NO_STREAM", "no JetStream stream captures this subject"));
      return;
    }
    let answer: { stream?: string; seq?: number; duplicate?: boolean; error?: { description?: string } };
    try {
      answer = JSON.parse(decoder.decode(data));
    } catch {
      waiter.reject(new AckError("REFUSED", "the PubAck is not JSON"));
      return;
    }
    if (answer.error || typeof answer.stream !== "string" || typeof answer.seq !== "number") {
      waiter.reject(new AckError("REFUSED", answer.error?.description ?? "invalid PubAck"));
      return;
    }
    waiter.resolve({ stream: answer.stream, seq: answer.seq, duplicate: answer.duplicate === true });
  }

  /** One timer for all waiters, armed only while some wait. */
  private sweepLater(): void {
    if (this.sweeper !== undefined) return;
    this.sweeper = setTimeout(() => {
      this.sweeper = undefined;
      const now = Date.now();
      for (const [token, waiter] of this.waiting) {
        if (waiter.deadline > now) continue;
        this.waiting.delete(token);
        waiter.reject(new AckError("TIMEOUT", `no JetStream ack within ${this.timeoutMs} ms`));
      }
      if (this.waiting.size > 0) this.sweepLater();
    }, Math.min(250, this.timeoutMs));
  }

  private failAll(message: string): void {
    for (const waiter of this.waiting.values()) waiter.reject(new AckError("REFUSED", message));
    this.waiting.clear();
  }

  close(): void {
    clearTimeout(this.sweeper);
    this.sweeper = undefined;
    this.failAll("the connection closed");
    try {
      this.sub.unsubscribe();
    } catch {
      // already gone with its connection
    }
  }
}
