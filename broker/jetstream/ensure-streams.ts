// Creating the contract's streams (broker/streams.ts) on a cluster, idempotently, through the
// start-up wait (ready.ts). Node parts and tests use it; the edge never manages streams.
import type { NatsConnection } from "@nats-io/nats-core";
import { JetStreamApiCodes, JetStreamApiError, type JetStreamManager, type StreamConfig } from "@nats-io/jetstream";
import { streamConfigs, type StreamOptions } from "../streams.ts";
import { DEFAULT_READY_DEADLINE_MS, jetstreamManagerReady, LeaderMissingError, untilReady, type UntilReadyOptions } from "./ready.ts";

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
