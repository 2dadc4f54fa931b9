// Starts the edge for tests and benchmarks on a free loopback port: in real workerd (Miniflare's
// API, worker/dev/index.ts) or on Node (@hono/node-server), against a broker from test/harness/nats.ts.
// The edge suites run the same cases against both runtimes. Stop it with `stop()` in t.after().
import { startEdgeWorkerd } from "../../worker/dev/index.ts";
import { startNodeEdge, type ApiKeyEntry } from "../../worker/index.ts";
import { freePort } from "./ports.ts";

export type EdgeRuntime = "workerd" | "node";
export const EDGE_RUNTIMES: EdgeRuntime[] = ["workerd", "node"];

export interface TestEdgeOptions {
  runtime: EdgeRuntime;
  broker: { websocketUrls: string[]; servers: string[] };
  registryDir: string;
  apiKeys?: ApiKeyEntry[];
  /** Vars over wrangler.toml's (workerd) or config.ts defaults (Node). Request logs are off unless LOG_REQUESTS is set. */
  vars?: Record<string, string>;
  /** Worker output lines (workerd) or request log lines (Node). */
  onOutput?: (line: string) => void;
  /** A fixed port, to start an edge again where clients knew the last one (default: a free port). */
  port?: number;
}

export interface TestEdge {
  runtime: EdgeRuntime;
  url: string;
  stop(): Promise<void>;
}

export async function startTestEdge(opts: TestEdgeOptions): Promise<TestEdge> {
  const port = opts.port ?? (await freePort());
  const vars = { LOG_REQUESTS: "false", ...(opts.vars ?? {}) };
  if (opts.runtime === "workerd") {
    const edge = await startEdgeWorkerd({
      port,
      natsWebsocketUrls: opts.broker.websocketUrls,
      registryDir: opts.registryDir,
      apiKeys: opts.apiKeys,
      vars,
      onOutput: opts.onOutput,
    });
    return { runtime: "workerd", ...edge };
  }
  const edge = await startNodeEdge({
    port,
    natsServers: opts.broker.servers,
    registryDir: opts.registryDir,
    apiKeys: opts.apiKeys,
    vars,
    log: opts.onOutput,
  });
  return { runtime: "node", ...edge };
}
