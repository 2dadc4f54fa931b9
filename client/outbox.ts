// The publishes of one client, across sockets: each waits in the queue until the socket has room
// under the edge's `maxInFlight` (so the client never provokes a `backpressure` problem), is then
// in flight until its ack or problem, and goes back to the front of the queue if the socket drops
// first. A resend carries the very same frame (same rid, same event id and source), so JetStream's
// duplicate window stores the event once and answers `duplicate: true` if the first send got through.
import { ClientError, ProblemError } from "./errors.ts";
import type { Ack, CloudEvent, Problem, PublishFrame } from "./frames.ts";

interface Pending {
  rid: string;
  frame: string;
  resolve(ack: Ack): void;
  reject(err: Error): void;
}

/** What the outbox needs of the current socket. */
export interface Link {
  maxInFlight: number;
  maxFrameBytes: number;
  send(text: string): void;
}

const encoder = new TextEncoder();

export class Outbox {
  private next = 1;
  /** Not sent on the current socket, in publish order. */
  private queue: Pending[] = [];
  /** Sent on the current socket and unanswered, in send order (which is publish order). */
  private readonly inFlight = new Map<string, Pending>();

  add(event: CloudEvent): Promise<Ack> {
    const rid = `p${this.next++}`;
    const frame: PublishFrame = { op: "publish", rid, event };
    return new Promise<Ack>((resolve, reject) => {
      this.queue.push({ rid, frame: JSON.stringify(frame), resolve, reject });
    });
  }

  /** Sends from the queue while the socket has room. */
  pump(link: Link): void {
    while (this.queue.length > 0 && this.inFlight.size < link.maxInFlight) {
      const pending = this.queue.shift()!;
      // The edge closes the socket (1009) on a frame past its limit, which would drop every
      // other publish in flight with it: refuse this one here, unsent.
      const bytes = encoder.encode(pending.frame).byteLength;
      if (bytes > link.maxFrameBytes) {
        pending.reject(new ClientError("FRAME_TOO_LARGE", `the publish frame is ${bytes} bytes; the edge takes at most ${link.maxFrameBytes}`));
        continue;
      }
      this.inFlight.set(pending.rid, pending);
      link.send(pending.frame);
    }
  }

  /** An ack for one of ours: true if the rid was in flight. */
  acked(rid: unknown, ack: Ack): boolean {
    const pending = this.take(rid);
    pending?.resolve({ id: ack.id, type: ack.type, seq: ack.seq, duplicate: ack.duplicate });
    return pending !== undefined;
  }

  /** A problem for one of ours: true if the rid was in flight. */
  refused(rid: unknown, problem: Problem): boolean {
    const pending = this.take(rid);
    pending?.reject(new ProblemError(problem));
    return pending !== undefined;
  }

  /** The socket dropped: what was in flight may or may not be stored, so it is sent again first. */
  requeueInFlight(): void {
    this.queue = [...this.inFlight.values(), ...this.queue];
    this.inFlight.clear();
  }

  rejectAll(err: Error): void {
    const all = [...this.inFlight.values(), ...this.queue];
    this.inFlight.clear();
    this.queue = [];
    for (const pending of all) pending.reject(err);
  }

  /** Publishes not yet answered, queued or in flight. */
  get unanswered(): number {
    return this.queue.length + this.inFlight.size;
  }

  private take(rid: unknown): Pending | undefined {
    if (typeof rid !== "string") return undefined;
    const pending = this.inFlight.get(rid);
    this.inFlight.delete(rid);
    return pending;
  }
}

