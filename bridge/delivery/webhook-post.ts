// One HTTP attempt: POST the rendered event with Standard Webhooks headers through a shared undici
// Agent (keep-alive pools per origin), under the subscription's timeout, and report what happened
// as data. Connections go through the SSRF guard's connector (bridge/delivery/ssrf.ts).
import { Agent, buildConnector } from "undici";
import { BridgeError } from "../errors.ts";
import { checkUrl, guardedConnector, systemResolver, type Resolver, type SsrfPolicy } from "./ssrf.ts";

/** Response bodies are kept only this far, for the attempt log and the DLQ history. */
const EXCERPT_BYTES = 1024;
/** A body longer than this is not read to the end; the connection is dropped instead. */
const DRAIN_LIMIT_BYTES = 64 * 1024;
/** Checked URLs remembered per Deliverer (its SSRF policy never changes); a bound, not a tuning knob. */
const CHECKED_URLS_LIMIT = 10_000;

type Target = { origin: string; path: string } | { refused: string };

export interface AttemptResult {
  ok: boolean;
  /** HTTP status, or 0 when no response arrived (network error, timeout, refused). */
  status: number;
  latencyMs: number;
  /** Stable code for failures without a status: TIMEOUT, NETWORK, SSRF_REFUSED, ABORTED. */
  error?: string;
  message?: string;
  retryAfter?: string;
  excerpt?: string;
}

export interface DeliveryRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** Aborts the attempt (shutdown). */
  signal?: AbortSignal;
}

/** How the Deliverer reaches the network; tests inject both so no traffic leaves loopback. */
export interface DelivererNet {
  /** Name resolution (default: node:dns lookup). */
  resolve?: Resolver;
  /** Wraps the connector that opens sockets, which only ever sees checked IP addresses. */
  wrapConnect?: (connect: buildConnector.connector) => buildConnector.connector;
}

export class Deliverer {
  readonly agent: Agent;
  private readonly checked = new Map<string, Target>();
  /** In-flight attempts per caller's abort signal, stopped together when it fires (shutdown). */
  private readonly attemptsBySignal = new WeakMap<AbortSignal, Set<HttpAttempt>>();

  constructor(
    private readonly policy: SsrfPolicy,
    private readonly userAgent: string,
    connectionsPerOrigin: number,
    net: DelivererNet = {},
  ) {
    const connect = buildConnector({ timeout: 10_000 });
    this.agent = new Agent({
      connections: connectionsPerOrigin,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 120_000,
      connect: guardedConnector(policy, net.resolve ?? systemResolver, net.wrapConnect ? net.wrapConnect(connect) : connect),
    });
  }

  post(req: DeliveryRequest): Promise<AttemptResult> {
    const started = performance.now();
    const target = this.target(req.url);
    if ("refused" in target) {
      return Promise.resolve({ ok: false, status: 0, latencyMs: roundMs(performance.now() - started), error: "SSRF_REFUSED", message: target.refused });
    }
    return new Promise((resolve) => {
      const attempt = new HttpAttempt(started, req.timeoutMs, req.signal, resolve);
      if (req.signal) this.join(req.signal, attempt);
      try {
        this.dispatch(target, req, attempt);
      } catch (err) {
        attempt.onResponseError(undefined, err as Error);
      }
    });
  }

  private dispatch(target: { origin: string; path: string }, req: DeliveryRequest, attempt: HttpAttempt): void {
    const options = {
      origin: target.origin,
      path: target.path,
      method: "POST" as const,
      headers: { ...req.headers, "user-agent": this.userAgent },
      body: req.body,
      headersTimeout: req.timeoutMs,
      bodyTimeout: req.timeoutMs,
    };
    this.agent.dispatch(options, attempt);
  }

  /** The SSRF check of a URL (scheme, IP literal, localhost), done once per distinct URL. */
  private target(raw: string): Target {
    let target = this.checked.get(raw);
    if (target) return target;
    try {
      const url = checkUrl(raw, this.policy);
      target = { origin: url.origin, path: url.pathname + url.search };
    } catch (err) {
      target = { refused: (err as Error).message };
    }
    if (this.checked.size >= CHECKED_URLS_LIMIT) this.checked.clear();
    this.checked.set(raw, target);
    return target;
  }

  /** Ties an attempt to the caller's signal with one listener per signal, not one per attempt. */
  private join(signal: AbortSignal, attempt: HttpAttempt): void {
    if (signal.aborted) return attempt.stop("ABORTED");
    let group = this.attemptsBySignal.get(signal);
    if (!group) {
      const members = new Set<HttpAttempt>();
      signal.addEventListener("abort", () => {
        for (const a of members) a.stop("ABORTED");
        members.clear();
      }, { once: true });
      this.attemptsBySignal.set(signal, members);
      group = members;
    }
    attempt.group = group;
    group.add(attempt);
  }

  async close(): Promise<void> {
    await this.agent.close().catch(() => this.agent.destroy());
  }
}

function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** What undici's dispatch hands a handler to stop a request (its DispatchController). */
interface Controller {
  abort(reason: Error): void;
}

/**
 * One POST as an undici dispatch handler. It replaces `agent.request()`, whose response stream,
 * async-resource bookkeeping and AbortSignal per attempt were a fifth of the bridge's CPU at 5k/s
 * and most of its short-lived garbage. Same rules as before: a 2xx body is read and discarded up
 * to DRAIN_LIMIT_BYTES, any other keeps its first EXCERPT_BYTES; past the limit the connection is
 * dropped; the subscription's timeout covers the whole exchange.
 */
class HttpAttempt {
  group: Set<HttpAttempt> | undefined;
  private controller: Controller | undefined;
  private stopped: "TIMEOUT" | "ABORTED" | undefined;
  private finished = false;
  private status = 0;
  private retryAfter: string | undefined;
  private excerpt: Buffer[] | undefined;
  private kept = 0;
  private read = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly started: number,
    timeoutMs: number,
    private readonly shutdown: AbortSignal | undefined,
    private readonly done: (result: AttemptResult) => void,
  ) {
    this.timer = setTimeout(() => this.stop("TIMEOUT"), timeoutMs);
  }

  /** Timeout or shutdown: abort now, or as soon as undici hands over the request. */
  stop(why: "TIMEOUT" | "ABORTED"): void {
    if (this.stopped || this.finished) return;
    this.stopped = why;
    this.controller?.abort(new Error(why === "TIMEOUT" ? "attempt timed out" : "delivery aborted by shutdown"));
  }

  onRequestStart(controller: Controller): void {
    this.controller = controller;
    if (this.stopped) controller.abort(new Error("attempt stopped before it was sent"));
  }

  onResponseStart(_controller: Controller, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    this.status = statusCode;
    const retryAfter = headers["retry-after"];
    if (typeof retryAfter === "string") this.retryAfter = retryAfter;
    if (statusCode < 200 || statusCode >= 300) this.excerpt = [];
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    this.read += chunk.length;
    if (this.excerpt && this.kept < EXCERPT_BYTES) {
      this.excerpt.push(chunk);
      this.kept += chunk.length;
    }
    if (this.read > DRAIN_LIMIT_BYTES) {
      // The outcome is known; a receiver streaming a large body does not get to hold the slot.
      this.finish(this.response());
      controller.abort(new Error("response body past the drain limit"));
    }
  }

  onResponseEnd(): void {
    this.finish(this.response());
  }

  onResponseError(_controller: Controller | undefined, err: Error): void {
    this.finish({ ok: false, status: 0, latencyMs: 0, ...classify(err, this.stopped === "TIMEOUT", this.shutdown) });
  }

  private response(): AttemptResult {
    const ok = this.status >= 200 && this.status < 300;
    const result: AttemptResult = { ok, status: this.status, latencyMs: 0 };
    if (this.retryAfter !== undefined) result.retryAfter = this.retryAfter;
    if (this.excerpt) {
      // Cut on bytes, then drop a trailing partial UTF-8 sequence so the excerpt stays valid text.
      result.excerpt = Buffer.concat(this.excerpt).subarray(0, EXCERPT_BYTES).toString("utf8").replace(/\uFFFD$/, "");
    }
    return result;
  }

  private finish(result: AttemptResult): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    this.group?.delete(this);
    result.latencyMs = roundMs(performance.now() - this.started);
    this.done(result);
  }
}

function classify(err: unknown, timedOut: boolean, abort: AbortSignal | undefined): { error: string; message: string } {
  const cause = (err as { cause?: unknown }).cause;
  if (err instanceof BridgeError || cause instanceof BridgeError) {
    return { error: "SSRF_REFUSED", message: (cause instanceof BridgeError ? cause : (err as Error)).message };
  }
  const code = (err as { code?: string }).code ?? "";
  if (abort?.aborted) return { error: "ABORTED", message: "delivery aborted by shutdown" };
  if (timedOut || code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT" || code === "UND_ERR_CONNECT_TIMEOUT") {
    return { error: "TIMEOUT", message: "receiver did not answer within the subscription's timeout" };
  }
  return { error: "NETWORK", message: `${code || (err as Error).name}: ${(err as Error).message}` };
}
