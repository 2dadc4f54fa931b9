// The streams every part relies on (DESIGN.md, Contracts): their names and settings, as data.
// Creating them is broker/jetstream/ensure-streams.ts. Only types come from @nats-io/jetstream, so
// this file costs the worker bundle nothing: that package is CommonJS, which a bundler cannot
// tree-shake, and the edge never manages streams.
import type { DiscardPolicy, RetentionPolicy, StorageType, StreamConfig } from "@nats-io/jetstream";
import { ALL_DEAD_LETTERS_SUBJECT, ALL_EVENTS_SUBJECT } from "./subjects.ts";

// The values of @nats-io/jetstream's enums, which are string enums on the wire.
const FILE_STORAGE = "file" as StorageType;
const LIMITS_RETENTION = "limits" as RetentionPolicy;
const DISCARD_OLD = "old" as DiscardPolicy;

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
      storage: FILE_STORAGE,
      retention: LIMITS_RETENTION,
      discard: DISCARD_OLD,
      num_replicas: opts.replicas,
      duplicate_window: DUPLICATE_WINDOW_NS,
      max_age: opts.eventsMaxAgeNs ?? 7 * DAY_NS,
    },
    {
      name: DLQ_STREAM,
      subjects: [ALL_DEAD_LETTERS_SUBJECT],
      storage: FILE_STORAGE,
      retention: LIMITS_RETENTION,
      discard: DISCARD_OLD,
      num_replicas: opts.replicas,
      duplicate_window: DUPLICATE_WINDOW_NS,
      max_age: opts.dlqMaxAgeNs ?? 30 * DAY_NS,
    },
  ];
}
