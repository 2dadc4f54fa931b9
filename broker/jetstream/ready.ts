// The one start-up wait on JetStream (DESIGN.md decision 15). After an abrupt stop, a restarted
// cluster answers for each stream, KV bucket and consumer only once that resource's Raft group has
// elected a leader again, one group after another; until then requests time out or get a 503.
// untilReady retries an operation while its error means "not ready yet", with backoff, logging what
// it waits for, and gives up after a stated deadline with an error that names the resource. Any
// other error (permission denied, bad config, not found) is rethrown at once. Runtime-neutral (no
// Node built-ins), so the edge could use it too.
import { NoRespondersError, RequestError, TimeoutError, type NatsConnection } from "@nats-io/nats-core";
import { JetStreamApiError, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { BrokerError } from "../errors.ts";

/** How long a restarted cluster may take to elect leaders from its stored data (≈15 s seen here, more under load). */
export const DEFAULT_READY_DEADLINE_MS = 90_000;

/**
 * JetStream API error codes (nats-server errors.json) that mean the cluster cannot answer *yet*:
 * 10008 JSClusterNotAvailErr, 10009 JSClusterNotLeaderErr, 10004 JSClusterIncompleteErr, and
 * 10005 JSClusterNoPeersErrF ("no suitable peers for placement"): a meta leader elected before
 * every peer has reported in cannot place an R3 stream yet (seen in CI on a fresh 3-node cluster;
 * the launcher now waits for the peers, broker/server/readiness.ts, but a client of a cluster it
 * did not start may still meet this). A cluster that really lacks the peers waits out the
 * deadline and then fails, naming the resource and this cause. Any API error with the HTTP-like
 * status 503 counts as well.
 */
const NOT_READY_CODES = new Set([10004, 10005, 10008, 10009]);
/** 503s that are configuration, not recovery: 10076 JSNotEnabledErr, 10039 JSNotEnabledForAccountErr. */
const NOT_ENABLED_CODES = new Set([10039, 10076]);

/** Thrown by a probe that got an answer without a leader in it (e.g. stream info, cluster.leader unset). */
export class LeaderMissingError extends Error {
  override readonly name = "LeaderMissingError";
}

/**
 * True when the error, or an error it wraps, means "not ready yet": a request timeout, no
 * responders (JetStream not started on that server yet; the client reports it as
 * JetStreamNotEnabled with the RequestError as cause), or a JetStream API error of the cluster
 * being unavailable. Our own NOT_READY errors are final: a nested wait already used its deadline.
 */
export function isNotReady(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof BrokerError) return false;
    if (e instanceof LeaderMissingError || e instanceof TimeoutError || e instanceof NoRespondersError) return true;
    if (e instanceof RequestError && e.isNoResponders()) return true;
    if (e instanceof JetStreamApiError) return !NOT_ENABLED_CODES.has(e.code) && (e.status === 503 || NOT_READY_CODES.has(e.code));
  }
  return false;
}

export interface UntilReadyOptions {
  /** Give up after this long (default DEFAULT_READY_DEADLINE_MS). */
  deadlineMs?: number;
  /** Told once per retry what is awaited and why (e.g. the stack's log, the bridge's logger). */
  onWait?: (line: string) => void;
  /** First pause between tries; doubles up to maxDelayMs. */
  minDelayMs?: number;
  maxDelayMs?: number;
}

function reasonOf(err: unknown): string {
  if (err instanceof JetStreamApiError) return `${err.name} ${err.code}: ${err.message}`;
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * Runs fn until it succeeds, retrying only while isNotReady(error), with exponential backoff
 * (250 ms doubling to 2 s by default) until the deadline. `what` names the resource, e.g.
 * "KV bucket jetgate_subscriptions (stream KV_jetgate_subscriptions)".
 */
export async function untilReady<T>(what: string, fn: () => Promise<T>, opts: UntilReadyOptions = {}): Promise<T> {
  const deadlineMs = opts.deadlineMs ?? DEFAULT_READY_DEADLINE_MS;
  const started = Date.now();
  const maxDelay = opts.maxDelayMs ?? 2_000;
  let delay = opts.minDelayMs ?? 250;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isNotReady(err)) throw err;
      const waited = Date.now() - started;
      if (waited + delay > deadlineMs) {
        throw new BrokerError(
          "NOT_READY",
          `${what} had no leader after ${(waited / 1000).toFixed(1)} s (deadline ${deadlineMs / 1000} s, ${attempt} tries; last: ${reasonOf(err)})`,
          { cause: err },
        );
      }
      opts.onWait?.(`waiting for ${what} to elect a leader (${(waited / 1000).toFixed(1)} s so far; ${reasonOf(err)})`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, maxDelay);
    }
  }
}

/**
 * A JetStreamManager once the JetStream API answers: creating one asks for the account info, which
 * needs the cluster's meta leader, the first thing a restarted cluster has to elect.
 */
export function jetstreamManagerReady(nc: NatsConnection, opts: UntilReadyOptions = {}): Promise<JetStreamManager> {
  return untilReady("the JetStream API (its meta group)", () => jetstreamManager(nc), opts);
}
