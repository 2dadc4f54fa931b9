// The workerd publisher. A Worker cannot keep a socket across requests, so the NATS connection
// lives in a Durable Object (DESIGN.md decision 2): PublisherShard holds one wsconnect link and
// serves many publishes at once (awaiting an ack does not close the input gate, so calls
// interleave). A DO is single-threaded, so subjects are spread over PUBLISHER_SHARDS objects by
// hash — one type always lands on one shard, which keeps per-type order.
import { DurableObject, type DurableObjectId, type DurableObjectNamespace, type DurableObjectState } from "cloudflare:workers";
import { wsconnect } from "@nats-io/nats-core";
import { BrokerLink } from "../publish/broker-link.ts";
import { GroupCommit, WaitTimeout } from "../publish/group-commit.ts";
import { parseConfig, type EdgeVars } from "../config.ts";
import { shardOf, type Publisher, type PublishOutcome, type PublishRequest, type PublisherHealth } from "../publish/publisher.ts";

export interface WorkerEnv {
  PUBLISHER: DurableObjectNamespace<PublisherShard>;
  /** SocketHub (socket-hub.ts), reached only through its fetch handler, so no method types are needed here. */
  SOCKETS: DurableObjectNamespace<unknown>;
  [name: string]: unknown;
}

export function varsOf(env: WorkerEnv): EdgeVars {
  const vars: EdgeVars = {};
  for (const [name, value] of Object.entries(env)) if (typeof value === "string") vars[name] = value;
  return vars;
}

export class PublisherShard extends DurableObject<WorkerEnv> {
  private readonly link: BrokerLink;

  constructor(ctx: DurableObjectState, env: WorkerEnv) {
    super(ctx, env);
    const config = parseConfig(varsOf(env), "NATS_WS_URLS");
    this.link = new BrokerLink({
      servers: config.natsUrls,
      connect: wsconnect,
      publishTimeoutMs: config.publishTimeoutMs,
      auth: config.natsAuth,
      name: `jetgate-edge-${ctx.id.name ?? ctx.id.toString()}`,
    });
  }

  async publishMany(requests: PublishRequest[]): Promise<PublishOutcome[]> {
    return this.link.publishMany(requests);
  }

  async health(): Promise<PublisherHealth> {
    return this.link.health();
  }
}

/**
 * RPCs to one shard under way at once from this isolate; more callers queue and go together in
 * the next one (group-commit.ts). One gave the largest shipments and the best rate (ten clients:
 * ~4 events a shipment); a lone event still ships at once.
 */
const SHIPMENTS_IN_FLIGHT = 1;
/** Events in one shipment at most: a full batch request (MAX_BATCH_EVENTS' default). */
const SHIPMENT_MAX_EVENTS = 1000;

/** The Worker's side: routes each request to its shard's object over RPC, grouped per shard. */
export class DurablePublisher implements Publisher {
  private readonly ids: DurableObjectId[];
  private readonly commits: Array<GroupCommit<PublishRequest, PublishOutcome>>;

  constructor(
    private readonly namespace: DurableObjectNamespace<PublisherShard>,
    shards: number,
    publishTimeoutMs: number,
  ) {
    this.ids = Array.from({ length: shards }, (_, i) => namespace.idFromName(`publisher-${i}`));
    // A queued caller waits for the shipments ahead of it as well as its own.
    const waitLimitMs = 2 * publishTimeoutMs;
    this.commits = this.ids.map(
      (_, shard) => new GroupCommit((requests) => this.ship(shard, requests), SHIPMENTS_IN_FLIGHT, SHIPMENT_MAX_EVENTS, waitLimitMs),
    );
  }

  private stub(shard: number) {
    return this.namespace.get(this.ids[shard]!);
  }

  /** One RPC; a failed call is an UNAVAILABLE outcome for each of its requests, never a throw. */
  private async ship(shard: number, requests: PublishRequest[]): Promise<PublishOutcome[]> {
    try {
      return await this.stub(shard).publishMany(requests);
    } catch (err) {
      const message = `publisher shard ${shard} failed: ${err instanceof Error ? err.message : String(err)}`;
      return requests.map(() => ({ ok: false, code: "UNAVAILABLE", message }));
    }
  }

  async publishMany(requests: PublishRequest[]): Promise<PublishOutcome[]> {
    const groups = new Map<number, number[]>();
    requests.forEach((request, index) => {
      const shard = shardOf(request.subject, this.ids.length);
      const group = groups.get(shard);
      if (group) group.push(index);
      else groups.set(shard, [index]);
    });
    const outcomes = new Array<PublishOutcome>(requests.length);
    await Promise.all(
      [...groups].map(async ([shard, indexes]) => {
        const results = await this.commits[shard]!.submit(indexes.map((i) => requests[i]!)).catch((err: unknown) => {
          if (!(err instanceof WaitTimeout)) throw err;
          return indexes.map((): PublishOutcome => ({ ok: false, code: "TIMEOUT", message: err.message }));
        });
        indexes.forEach((requestIndex, k) => {
          outcomes[requestIndex] = results[k]!;
        });
      }),
    );
    return outcomes;
  }

  /** Reachable only when every shard's link answers a PING. */
  async health(): Promise<PublisherHealth> {
    const shards = await Promise.all(
      this.ids.map((_, shard) =>
        this.stub(shard)
          .health()
          .catch((err: unknown) => ({ reachable: false, detail: err instanceof Error ? err.message : String(err) })),
      ),
    );
    const down = shards.findIndex((s) => !s.reachable);
    if (down >= 0) return { reachable: false, detail: `shard ${down}: ${shards[down]!.detail}` };
    return { reachable: true, detail: `${shards.length} publisher shards connected` };
  }

  async close(): Promise<void> {}
}
