// The streams every part relies on (DESIGN.md, Contracts), created or updated idempotently.
import type { NatsConnection } from "@nats-io/nats-core";
import { setTimeout as sleep } from "node:timers/promises";
import { BrokerError } from "./errors.ts";
import { jetstreamManager, RetentionPolicy, StorageType, DiscardPolicy, type StreamConfig } from "@nats-io/jetstream";

export const EVENTS_STREAM = "EVENTS";
export const DLQ_STREAM = "DLQ";
export const EVENTS_SUBJECT_PREFIX = "events.";
export const DLQ_SUBJECT_PREFIX = "dlq.";

/** JetStream drops a repeated Nats-Msg-Id inside this window, which makes client retries safe. */
export const DUPLICATE_WINDOW_NS = 2 * 60 * 1_000_000_000;
const DAY_NS = 24 * 60 * 60 * 1_000_000_000;

export interface StreamOptions {
  replicas: number;
  /** How long events are kept for replay (default 7 days). */
  eventsMaxAgeNs?: number;
  /** How long dead letters are kept for inspection and redrive (default 30 days). */
  dlqMaxAgeNs?: number;
}

export function streamConfigs(opts: StreamOptions): Array<Partial<StreamConfig> & { name: string }> {
  return [
    {
      name: EVENTS_STREAM,
      subjects: [`${EVENTS_SUBJECT_PREFIX}>`],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      num_replicas: opts.replicas,
      duplicate_window: DUPLICATE_WINDOW_NS,
      max_age: opts.eventsMaxAgeNs ?? 7 * DAY_NS,
    },
    {
      name: DLQ_STREAM,
      subjects: [`${DLQ_SUBJECT_PREFIX}>`],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      num_replicas: opts.replicas,
      duplicate_window: DUPLICATE_WINDOW_NS,
      max_age: opts.dlqMaxAgeNs ?? 30 * DAY_NS,
    },
  ];
}

/** How long a restarted cluster may take to elect stream leaders from its stored data. */
export const DEFAULT_STREAMS_READY_TIMEOUT_MS = 90_000;

/**
 * Like ensureStreams, but retries while JetStream is not ready yet. A cluster restarted on its old
 * data answers requests only once each stream has a leader again, which took ~15 s here.
 */
export async function ensureStreamsReady(
  nc: NatsConnection,
  opts: StreamOptions & { timeoutMs?: number; onWait?: (reason: string) => void },
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? DEFAULT_STREAMS_READY_TIMEOUT_MS);
  for (;;) {
    try {
      return await ensureStreams(nc, opts);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (Date.now() > deadline) throw new BrokerError("NOT_READY", `JetStream streams not ready: ${reason}`, { cause: err });
      opts.onWait?.(reason);
      await sleep(500);
    }
  }
}

/** Creates each stream, or updates it to the wanted config when it exists already. */
export async function ensureStreams(nc: NatsConnection, opts: StreamOptions): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const config of streamConfigs(opts)) {
    const exists = await jsm.streams.info(config.name).then(
      () => true,
      () => false,
    );
    if (exists) await jsm.streams.update(config.name, config);
    else await jsm.streams.add(config);
  }
}
