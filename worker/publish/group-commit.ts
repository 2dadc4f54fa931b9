// Group commit: many concurrent callers, few round trips. Items submitted while `maxInFlight`
// shipments are already under way wait in a queue; the next shipment takes as much of it as fits. At low
// load nothing waits (a lone item ships at once); under load the round trip to the Durable Object
// and the WebSocket frame to NATS are shared by many events, which is where a single event's cost
// went (one RPC and one frame each; nats-server alone spent 5× more CPU per event than in batches).
//
// workerd: each request runs in its own I/O context, and I/O started in one request must not
// outlive it. So a shipment is always sent from the context of a caller whose items it carries
// (that caller awaits it), and a caller whose items were shipped by another is woken through a
// promise, which workerd resumes in the caller's own context. workerd cancels a request that
// waits with nothing of its own pending (it looks hung), so a waiting caller keeps a timer: at
// `waitLimitMs` it gives up with WaitTimeout (a 503 for the client, never a false 202).

type Ship<I, R> = (items: I[]) => Promise<R[]>;

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

interface Entry<I, R> {
  items: I[];
  taken: boolean;
  /** Resolves when this entry may ship the queue itself. */
  turn: Deferred<void>;
  result: Deferred<R[]>;
}

export class WaitTimeout extends Error {
  override readonly name = "WaitTimeout";
}

export class GroupCommit<I, R> {
  private readonly queue: Array<Entry<I, R>> = [];
  private inFlight = 0;

  constructor(
    private readonly send: Ship<I, R>,
    private readonly maxInFlight: number,
    /** At most this many items in one shipment (the rest wait for the next). */
    private readonly maxItems: number,
    /** How long a caller waits for a shipment sent by another before it gives up. */
    private readonly waitLimitMs: number,
  ) {}

  /** Ships `items` (alone or with others) and answers their results, in order. */
  async submit(items: I[]): Promise<R[]> {
    const entry: Entry<I, R> = { items, taken: false, turn: deferred(), result: deferred() };
    // A caller that gave up no longer listens; its shipment's failure must not go unhandled.
    entry.result.promise.catch(() => undefined);
    if (this.inFlight < this.maxInFlight) {
      await this.ship(entry);
      return entry.result.promise;
    }
    this.queue.push(entry);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new WaitTimeout(`no publisher shipment within ${this.waitLimitMs} ms`)), this.waitLimitMs);
    });
    try {
      await Promise.race([entry.turn.promise, limit]);
      if (!entry.taken) await this.ship(entry);
      return await Promise.race([entry.result.promise, limit]);
    } finally {
      clearTimeout(timer);
      // Given up before shipping: leave the queue, so no one ships an item nobody waits for.
      if (!entry.taken) this.queue.splice(this.queue.indexOf(entry), 1);
    }
  }

  /** Sends `own` with as many queued entries as fit, from the caller's context, and settles them all. */
  private async ship(own: Entry<I, R>): Promise<void> {
    const queued = this.queue.indexOf(own);
    if (queued >= 0) this.queue.splice(queued, 1);
    own.taken = true;
    const batch: Array<Entry<I, R>> = [own];
    let count = own.items.length;
    while (this.queue.length > 0 && count + this.queue[0]!.items.length <= this.maxItems) {
      const next = this.queue.shift()!;
      next.taken = true;
      next.turn.resolve(); // it now waits for its result instead
      batch.push(next);
      count += next.items.length;
    }
    this.inFlight++;
    // Room for another shipment: let the next waiting caller send it.
    if (this.inFlight < this.maxInFlight) this.queue[0]?.turn.resolve();
    try {
      const results = await this.send(batch.flatMap((e) => e.items));
      let offset = 0;
      for (const e of batch) {
        e.result.resolve(results.slice(offset, offset + e.items.length));
        offset += e.items.length;
      }
    } catch (err) {
      for (const e of batch) e.result.reject(err);
    } finally {
      this.inFlight--;
      // Hand the next shipment to a waiting caller, to be sent from its own context.
      this.queue[0]?.turn.resolve();
    }
  }
}
