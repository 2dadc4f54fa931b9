// A webhook receiver for the delivery benchmarks: counts deliveries, stamps each arrival by
// webhook-id when asked, answers 204 at once, and the drain rate of a backlog measured at it.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

export interface Sink {
  url: string;
  count: number;
  arrivals: Map<string, number>;
  stamp: boolean;
  reset(): void;
  waitFor(n: number, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startSink(): Promise<Sink> {
  let server: Server;
  const sink: Sink = {
    url: "",
    count: 0,
    arrivals: new Map(),
    stamp: false,
    reset() {
      sink.count = 0;
      sink.arrivals.clear();
    },
    async waitFor(n, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (sink.count < n) {
        if (Date.now() > deadline) throw new Error(`receiver got ${sink.count} of ${n} deliveries in ${timeoutMs}ms`);
        await sleep(20);
      }
    },
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  server = createServer((req, res) => {
    req.on("data", () => undefined);
    req.on("end", () => {
      sink.count++;
      if (sink.stamp) sink.arrivals.set(String(req.headers["webhook-id"]), performance.now());
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  sink.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks`;
  return sink;
}

/** Waits for `n` deliveries; the rate is measured from the first to the last arrival. */
export async function drainRate(sink: Sink, n: number, timeoutMs: number, sample: () => void): Promise<number> {
  const start = Date.now();
  while (sink.count === 0 && Date.now() - start < timeoutMs) await sleep(2);
  const first = performance.now();
  const firstCount = sink.count;
  const sampler = setInterval(sample, 200);
  try {
    await sink.waitFor(n, timeoutMs);
  } finally {
    clearInterval(sampler);
  }
  return (n - firstCount) / ((performance.now() - first) / 1000);
}
