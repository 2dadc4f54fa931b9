// The workerd publisher. A Worker cannot keep a socket across requests, so the NATS connection
// lives in a Durable Object (DESIGN.md decision 2): PublisherShard holds one wsconnect link and
// serves many publishes at once (awaiting an ack does not close the input gate, so calls
// interleave). A DO is single-threaded, so subjects are spread over PUBLISHER_SHARDS objects by
// hash — one type always lands on one shard, which keeps per-type order.
import { DurableObject, type DurableObjectId, type DurableObjectNamespace, type DurableObjectState } from "cloudflare:workers";
import { wsconnect } from "@nats-io/nats-core";
import { BrokerLink } from "./broker-link.ts";
import { parseConfig, type EdgeVars } from "./config.ts";
import { shardOf, type Publisher, type PublishOutcome, type PublishRequest, type PublisherHealth } from "./publisher.ts";

export interface WorkerEnv {
  PUBLISHER: DurableObjectNamespace<PublisherShard>;
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

/** The Worker's side: routes each request to its shard's object over RPC. */
export class DurablePublisher implements Publisher {
  private readonly ids: DurableObjectId[];

  constructor(
    private readonly namespace: DurableObjectNamespace<PublisherShard>,
    shards: number,
  ) {
    this.ids = Array.from({ length: shards }, (_, i) => namespace.idFromName(`publisher-${i}`));
  }

  private stub(shard: number) {
    return this.namespace.get(this.ids[shard]!);
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
        let results: PublishOutcome[];
        try {
          results = await this.stub(shard).publishMany(indexes.map((i) => requests[i]!));
        } catch (err) {
          const message = `publisher shard ${shard} failed: ${err instanceof Error ? err.message : String(err)}`;
          results = indexes.map(() => ({ ok: false, code: "UNAVAILABLE", message }));
        }
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
