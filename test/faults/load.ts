// The load of a fault run: events with unique ids from one fixed source, posted to the edge in
// binary mode at a steady rate (open loop: a slow answer does not slow the sender), with every
// answer written down per id. An answer is "accepted" (202), "refused" (4xx: the edge says it
// stored nothing) or "unknown" (a timeout, a network error, or a 5xx: the event may or may not be
// stored). Unknowns are retried with the same id and source, as a client would, so they settle —
// but only inside JetStream's duplicate window, since a later retry would rightly be a new event.
import { setTimeout as sleep } from "node:timers/promises";

export type AnswerKind = "accepted" | "refused" | "unknown";

export interface Answer {
  kind: AnswerKind;
  /** HTTP status, or 0 when none came. */
  status: number;
  /** For 202: whether the edge said it was a duplicate. For errors: the problem type or error code. */
  detail: string;
  at: number;
}

export interface SentEvent {
  id: string;
  /** False for the few events sent with data that breaks the schema (they must be refused). */
  valid: boolean;
  firstSentAt: number;
  answers: Answer[];
  /** A request for it is on the wire. */
  busy: boolean;
}

export interface LoadOptions {
  /** The edge's current URL; changes when the chaos loop restarts the edge. */
  url: () => string;
  apiKey: string;
  source: string;
  type: string;
  idPrefix: string;
  ratePerSecond: number;
  /** Every n-th event carries invalid data (expected 422). */
  invalidEvery: number;
  requestTimeoutMs: number;
  maxInFlight: number;
  /** Retry an unknown only while its first send is younger than this (inside the duplicate window). */
  retryWithinMs: number;
  retryDelayMs: number;
}

const VALID = { orderId: "o-1", customer: { id: "c-1" }, total: { amount: "1.00", currency: "EUR" } };
const INVALID = { orderId: "o-1", customer: { id: "c-1" } };

export function classify(status: number): AnswerKind {
  if (status === 202) return "accepted";
  if (status >= 400 && status < 500) return "refused";
  return "unknown";
}

export class LoadDriver {
  readonly events = new Map<string, SentEvent>();
  private inFlight = 0;
  private readonly pending = new Set<Promise<void>>();
  private running = false;
  private loop: Promise<void> | undefined;
  requests = 0;
  /** Sends skipped because maxInFlight requests were already on the wire. */
  skipped = 0;

  constructor(private readonly opts: LoadOptions) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Stops sending new events and waits (bounded by the request timeout) for answers on the wire. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await Promise.allSettled([...this.pending]);
  }

  private async run(): Promise<void> {
    const interval = 1000 / this.opts.ratePerSecond;
    const begin = performance.now();
    let n = 0;
    while (this.running) {
      // Open loop: the n-th event is due at begin + n·interval, whatever the answers' latency.
      const due = begin + n * interval;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      if (!this.running) break;
      const id = `${this.opts.idPrefix}-${n}`;
      const valid = this.opts.invalidEvery <= 0 || n % this.opts.invalidEvery !== this.opts.invalidEvery - 1;
      n++;
      const event: SentEvent = { id, valid, firstSentAt: Date.now(), answers: [], busy: false };
      this.events.set(id, event);
      if (this.inFlight >= this.opts.maxInFlight) {
        this.skipped++;
        event.answers.push({ kind: "unknown", status: 0, detail: "not sent: too many in flight", at: Date.now() });
        continue;
      }
      this.send(event);
      this.retryDue();
    }
  }

  /** Ids without a definite answer yet that may still be retried. */
  unsettled(now = Date.now()): SentEvent[] {
    return [...this.events.values()].filter((e) => !e.busy && !settled(e) && now - e.firstSentAt < this.opts.retryWithinMs);
  }

  private retryDue(): void {
    const now = Date.now();
    for (const e of this.unsettled(now)) {
      if (this.inFlight >= this.opts.maxInFlight / 2) return;
      const last = e.answers.at(-1);
      if (last && now - last.at >= this.opts.retryDelayMs) this.send(e);
    }
  }

  /** After the run: retries unknowns until each settles, its retry window closes, or the deadline. */
  async settle(deadlineMs: number): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    while (Date.now() < deadline) {
      const open = this.unsettled();
      if (open.length === 0 && this.inFlight === 0) return;
      for (const e of open) {
        if (this.inFlight >= this.opts.maxInFlight) break;
        this.send(e);
      }
      await sleep(this.opts.retryDelayMs);
    }
    await Promise.allSettled([...this.pending]);
  }

  private send(event: SentEvent): void {
    event.busy = true;
    this.inFlight++;
    this.requests++;
    const task = this.post(event)
      .then((answer) => void event.answers.push(answer))
      .finally(() => {
        event.busy = false;
        this.inFlight--;
        this.pending.delete(task);
      });
    this.pending.add(task);
  }

  private async post(event: SentEvent): Promise<Answer> {
    const o = this.opts;
    try {
      const res = await fetch(`${o.url()}/v1/events`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${o.apiKey}`,
          "content-type": "application/json",
          "ce-specversion": "1.0",
          "ce-id": event.id,
          "ce-source": o.source,
          "ce-type": o.type,
        },
        body: JSON.stringify(event.valid ? VALID : INVALID),
        signal: AbortSignal.timeout(o.requestTimeoutMs),
      });
      const body = (await res.json().catch(() => ({}))) as { duplicate?: boolean; type?: string };
      const detail = res.status === 202 ? (body.duplicate ? "duplicate" : "new") : String(body.type ?? "").split("/").at(-1) ?? "";
      return { kind: classify(res.status), status: res.status, detail, at: Date.now() };
    } catch (err) {
      const e = err as { name?: string; cause?: { code?: string } };
      const detail = e.name === "TimeoutError" ? "timeout" : (e.cause?.code ?? e.name ?? "error");
      return { kind: "unknown", status: 0, detail, at: Date.now() };
    }
  }
}

/** Settled: it got a 202, or a definite refusal. */
export function settled(e: SentEvent): boolean {
  return e.answers.some((a) => a.kind !== "unknown");
}

/** The id's final standing: accepted if any answer was 202; refused if it has a refusal and no 202. */
export function standing(e: SentEvent): AnswerKind {
  if (e.answers.some((a) => a.kind === "accepted")) return "accepted";
  if (e.answers.some((a) => a.kind === "refused")) return "refused";
  return "unknown";
}
