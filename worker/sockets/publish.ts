// A publish over a socket: the HTTPS structured path's steps (fromStructured → prepareEvent → the
// publisher), answered as one frame — the ack only after JetStream's, or the problem — so a socket
// can do nothing a POST could not, and says no in the same problem types.
import type { ApiKeyEntry } from "../auth/keys.ts";
import { fromStructured } from "../events/cloudevents.ts";
import { accepted, prepareEvent, publishFailure } from "../events/ingest.ts";
import type { RegistryView } from "../events/schema-registry.ts";
import { parseJson } from "../http/request-limits.ts";
import { EdgeError, makeProblem } from "../http/problems.ts";
import type { Publisher } from "../publish/publisher.ts";
import * as frames from "./frames.ts";
import type { Rid } from "./frames.ts";
import type { SocketStats } from "./stats.ts";

export interface PublishContext {
  /** The token's grant in the shape the HTTPS path checks scopes against. */
  key: ApiKeyEntry;
  registry: RegistryView;
  publisher: Publisher;
  limits: { maxFrameBytes: number; maxJsonDepth: number; retryAfterSeconds: number };
  stats: SocketStats;
}

/** Publishes one structured event and answers the frame to send: ack (rid, or else the event's id) or problem. */
export async function publishFrame(ctx: PublishContext, rid: Rid | undefined, value: unknown): Promise<string> {
  const { key, registry, publisher, limits, stats } = ctx;
  try {
    const event = fromStructured(value, (bytes) => parseJson(bytes, limits.maxJsonDepth));
    // A frame is held to one event's size, so the data within it is too.
    const prepared = prepareEvent(event, { key, registry, maxEventBytes: limits.maxFrameBytes, trace: {} });
    const [outcome] = await publisher.publishMany([prepared.request]);
    if (!outcome) throw new EdgeError("INTERNAL", "the publisher returned no outcome");
    if (!outcome.ok) throw publishFailure(outcome, limits.retryAfterSeconds);
    stats.published(outcome.ack.duplicate ? "duplicate" : "acked");
    return frames.ackFrame(rid ?? event.id, accepted(prepared, outcome));
  } catch (err) {
    stats.published(err instanceof EdgeError ? err.code : "INTERNAL");
    return frames.problemFrame(rid, err instanceof EdgeError ? err.toProblem() : makeProblem("INTERNAL", "the edge failed on this event"));
  }
}
