// What a socket reports about itself, for operators: sockets open, frames in and out, publishes
// acked or refused (by problem code), fan-out lag, slow-consumer closes. The Node edge counts them
// in Prometheus metrics (node/socket-metrics.ts); workerd writes one log line per socket when it
// closes (SocketTally.summary), since a Worker has no /metrics to scrape.

export interface SocketStats {
  opened(protocol: string): void;
  closed(code: number, protocol: string): void;
  frameIn(): void;
  frameOut(): void;
  /** "acked", "duplicate", or the problem code of a refused publish. */
  published(outcome: string): void;
  /** From JetStream storing an event to the edge sending it to this socket. */
  fanoutLag(ms: number): void;
  slowConsumer(): void;
}

/** One socket's counts, kept for its closing log line; forwards each to `next` (a process-wide sink) too. */
export class SocketTally implements SocketStats {
  framesIn = 0;
  framesOut = 0;
  acked = 0;
  refused = 0;
  events = 0;
  maxLagMs = 0;
  private readonly openedAt = Date.now();

  constructor(private readonly next?: SocketStats) {}

  opened(protocol: string): void {
    this.next?.opened(protocol);
  }
  closed(code: number, protocol: string): void {
    this.next?.closed(code, protocol);
  }
  frameIn(): void {
    this.framesIn++;
    this.next?.frameIn();
  }
  frameOut(): void {
    this.framesOut++;
    this.next?.frameOut();
  }
  published(outcome: string): void {
    if (outcome === "acked" || outcome === "duplicate") this.acked++;
    else this.refused++;
    this.next?.published(outcome);
  }
  fanoutLag(ms: number): void {
    this.events++;
    if (ms > this.maxLagMs) this.maxLagMs = ms;
    this.next?.fanoutLag(ms);
  }
  slowConsumer(): void {
    this.next?.slowConsumer();
  }

  summary(): Record<string, number> {
    const { framesIn, framesOut, acked, refused, events, maxLagMs } = this;
    return { framesIn, framesOut, acked, refused, events, maxLagMs, durationMs: Date.now() - this.openedAt };
  }
}
