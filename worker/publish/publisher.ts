// The one seam between the runtime-neutral app and the broker. Two implementations: a Durable
// Object per shard holding a wsconnect connection (publisher-do.ts, workerd) and one shared
// transport-node connection (node/publisher.ts, Node). Both publish through broker-link.ts.

export interface PublishAck {
  stream: string;
  seq: number;
  /** JetStream saw this msgID inside its duplicate window and did not store it again. */
  duplicate: boolean;
}

export interface PublishRequest {
  subject: string;
  data: Uint8Array;
  /** Becomes Nats-Msg-Id: the event's identity (eventMsgId in broker/index.ts, source + id), so retries inside the duplicate window are dropped. */
  msgID: string;
  headers: Record<string, string>;
}

type PublishErrorCode = "UNAVAILABLE" | "TIMEOUT";

/** The outcome of one publish, as data, so a batch can carry failures beside successes. */
export type PublishOutcome = { ok: true; ack: PublishAck } | { ok: false; code: PublishErrorCode; message: string };

export interface PublisherHealth {
  reachable: boolean;
  detail: string;
}

export interface Publisher {
  /** Publishes every request concurrently and answers one outcome per request, in order. */
  publishMany(requests: PublishRequest[]): Promise<PublishOutcome[]>;
  health(): Promise<PublisherHealth>;
  close(): Promise<void>;
}

/** FNV-1a over the subject: stable across runtimes, so one type always lands on one shard. */
export function shardOf(subject: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < subject.length; i++) {
    hash ^= subject.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shards;
}
