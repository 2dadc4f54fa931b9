// The Node publisher: one shared TCP connection (@nats-io/transport-node) for the whole process.
// Node keeps sockets across requests, so no sharding is needed; many publishes share the link.
import { connect } from "@nats-io/transport-node";
import { BrokerLink } from "./broker-link.ts";
import type { Publisher, PublishOutcome, PublishRequest, PublisherHealth } from "./publisher.ts";

export class NodePublisher implements Publisher {
  private readonly link: BrokerLink;

  constructor(opts: { servers: string[]; publishTimeoutMs: number }) {
    this.link = new BrokerLink({ ...opts, connect, name: "jetgate-edge-node" });
  }

  publishMany(requests: PublishRequest[]): Promise<PublishOutcome[]> {
    return this.link.publishMany(requests);
  }

  health(): Promise<PublisherHealth> {
    return this.link.health();
  }

  close(): Promise<void> {
    return this.link.close();
  }
}
