// The streams every part relies on (DESIGN.md, Contracts), created or updated idempotently.
import type { NatsConnection } from "@nats-io/nats-core";
import {
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  DiscardPolicy,
  type JetStreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import { DEFAULT_READY_DEADLINE_MS, jetstreamManagerReady, LeaderMissingError, untilReady, type UntilReadyOptions } from "./jetstream/ready.ts";
import { ALL_DEAD_LETTERS_SUBJECT, ALL_EVENTS_SUBJECT } from "./subjects.ts";

export const EVENTS_STREAM = "EVENTS";
export const DLQ_STREAM = "DLQ";

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
      subjects: [ALL_EVENTS_SUBJECT],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      num_replicas: opts.replicas,
      duplicate_window: DUPLICATE_WINDOW_NS,
      max_age: opts.eventsMaxAgeNs ?? 7 * DAY_NS,
    },
    {
      name: DLQ_STREAM,
      subjects: [ALL_DEAD_LETTERS_SUBJECT],
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
export const DEFAULT_STREAMS_READY_TIMEOUT_MS = DEFAULT_READY_DEADLINE_MS;

/**
 * Creates each stream, or updates it to the wanted config when it exists already, waiting
 * (untilReady) while JetStream is not ready yet: a cluster restarted on its old data answers for a
 * stream only once that stream has a leader again (~15 s here), and a fresh one places R3 streams
 * only once every peer has reported in.
 */
export async function ensureStreamsReady(
  nc: NatsConnection,
  opts: StreamOptions & { timeoutMs?: number; onWait?: (line: string) => void },
): Promise<void> {
  const jsm = await jetstreamManagerReady(nc, { deadlineMs: opts.timeoutMs, onWait: opts.onWait });
  for (const config of streamConfigs(opts)) {
    await ensureStream(jsm, config, { deadlineMs: opts.timeoutMs, onWait: opts.onWait });
  }
}

/**
 * Creates the stream or updates it to `config`, waiting for its leader first (untilReady): after a
 * restart the info request times out until the stream's Raft group has elected one. Only "stream
 * not found" means absent; every other error is either "not ready" (retried) or real (thrown).
 */
export async function ensureStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
  opts: UntilReadyOptions = {},
): Promise<void> {
  await untilReady(`stream ${config.name}`, () => putStream(jsm, config), opts);
}

async function putStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }): Promise<void> {
  const info = await jsm.streams.info(config.name).catch((err: unknown) => {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return null;
    throw err;
  });
  if (info) {
    // An R3 stream whose info came from a server without a leader is not usable yet.
    if (info.cluster && !info.cluster.leader) throw new LeaderMissingError(`stream ${config.name} has no leader`);
    await jsm.streams.update(config.name, config);
    return;
  }
  await jsm.streams.add(config).catch(async (err: unknown) => {
    // Another instance created it between our info and our add: update it instead.
    if (err instanceof JetStreamApiError && err.code === STREAM_NAME_IN_USE) await jsm.streams.update(config.name, config);
    else throw err;
  });
}

/** JSStreamNameExistErr (nats-server errors.json): the name is taken, with another config. */
const STREAM_NAME_IN_USE = 10058;
