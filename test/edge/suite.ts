// One 3-node cluster and one edge per runtime (workerd, Node), shared by the cases of a file.
import { startTestBroker, type TestBroker } from "../harness/nats.ts";
import { EDGE_RUNTIMES, startTestEdge, type EdgeRuntime, type TestEdge } from "../harness/worker.ts";
import { writeTestRegistry } from "./fixtures.ts";
import { Ledger, SUITE_VARS, testApiKeys } from "./helpers.ts";

export interface Suite {
  broker: TestBroker;
  edges: Map<EdgeRuntime, TestEdge>;
  ledger: Ledger;
  stop(): Promise<void>;
}

export async function startSuite(opts: { nodes?: 1 | 3; vars?: Record<string, string> } = {}): Promise<Suite> {
  const broker = await startTestBroker({ nodes: opts.nodes ?? 3 });
  const edges = new Map<EdgeRuntime, TestEdge>();
  const stop = async () => {
    await Promise.allSettled([...edges.values()].map((e) => e.stop()));
    await broker.stop();
  };
  try {
    const registryDir = writeTestRegistry();
    const apiKeys = await testApiKeys();
    for (const runtime of EDGE_RUNTIMES) {
      edges.set(runtime, await startTestEdge({ runtime, broker, registryDir, apiKeys, vars: { ...SUITE_VARS, ...(opts.vars ?? {}) } }));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { broker, edges, ledger: new Ledger(), stop };
}
