// Settlements (acks, attempt records) gathered into one turn of the event loop, so that they leave
// in one socket write. nats.js flushes its outbound buffer once per microtask checkpoint, and each
// HTTP response arrives in its own I/O callback; settled one by one, every delivery cost its own
// write(2) to nats-server — the largest single cost in the bridge's CPU profile at thousands of
// deliveries per second (loopback writes run the receiving side's TCP stack in the writer's time).
// setImmediate runs after the poll phase, so every response read in that phase shares one flush.
// The delay is one loop turn; nothing is settled before the outcome that decides it.

export class TickBatch {
  private pending: Array<() => void> = [];
  private scheduled = false;
  private readonly run = () => this.flush();

  /** `onError` hears what a queued function threw (the others still run). */
  constructor(private readonly onError: (err: unknown) => void) {}

  /** Runs `fn` at the end of this loop turn, together with the others queued in it. */
  add(fn: () => void): void {
    this.pending.push(fn);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.run);
  }

  /** Runs what is queued now (shutdown calls it so nothing waits for a turn that may not come). */
  flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    for (const fn of batch) {
      try {
        fn();
      } catch (err) {
        this.onError(err);
      }
    }
  }
}
