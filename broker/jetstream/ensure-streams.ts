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
    if (hasSettings(info.config, config)) return;
    await jsm.streams.update(config.name, config);
    return;
  }
  await jsm.streams.add(config).catch(async (err: unknown) => {
    // Another instance created it between our info and our add: update it instead.
    if (err instanceof JetStreamApiError && err.code === STREAM_NAME_IN_USE) await jsm.streams.update(config.name, config);
    else throw err;
  });
}

/**
 * Whether the stream already has every wanted setting. An update is not free even when it changes
 * nothing: it is a meta-group write, and nats-server 2.10 answers it on every replica with
 * fileStore.UpdateConfig, which for a stream with a max age runs expireMsgs and so loads the
 * stream's first message block (up to 8 MB, the block size of a limits stream) into the cache. At
 * every bridge start that was one 8 MB buffer per node for JETGATE_ATTEMPTS (issue 13's heap
 * profile: `getMsgBlockBuf < loadBlock < fetchMsg < expireMsgs < UpdateConfig`). A field the
 * server leaves out or reports differently counts as different, so the stream is updated as before.
 */
export function hasSettings(current: Partial<StreamConfig>, wanted: Partial<StreamConfig>): boolean {
  return Object.entries(wanted).every(([key, value]) => value === undefined || sameValue(current[key as keyof StreamConfig], value));
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  if (a && b && typeof a === "object" && typeof b === "object") {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return a === b;
}

/** JSStreamNameExistErr (nats-server errors.json): the name is taken, with another config. */
const STREAM_NAME_IN_USE = 10058;
