// A broker and a socket feed on it (worker/sockets/feed.ts), for the suites that test the feed
// without an edge: started before the file's tests, closed and stopped after them.
import { after, before } from "node:test";
import { connect } from "@nats-io/transport-node";
import { startTestBroker, type TestBroker } from "../harness/nats.ts";
import { JetStreamFeed } from "../../worker/sockets/feed.ts";

export interface FeedFixture {
  readonly broker: TestBroker;
  readonly feed: JetStreamFeed;
}

export function feedOnBroker(nodes: 1 | 3): FeedFixture {
  let broker: TestBroker | undefined;
  let feed: JetStreamFeed | undefined;
  before(async () => {
    broker = await startTestBroker({ nodes });
    const servers = broker.servers;
    feed = new JetStreamFeed(() => connect({ servers }));
  });
  after(async () => {
    await feed?.close();
    await broker?.stop();
  });
  return {
    get broker() {
      if (!broker) throw new Error("the feed fixture's broker is not started (use it inside a test)");
      return broker;
    },
    get feed() {
      if (!feed) throw new Error("the feed fixture's feed is not started (use it inside a test)");
      return feed;
    },
  };
}
