// Direct publishing into a 3-node R3 cluster: awaited one at a time, and with many in flight.
import { jetstream } from "@nats-io/jetstream";
import { startTestBroker } from "../test/harness/nats.ts";
import { measureDirectPublish } from "./direct-publish.ts";
import type { BenchContext, BenchRow } from "./lib.ts";

const PAYLOAD = new Uint8Array(1024).fill(120);

export default async function publishBench(ctx: BenchContext): Promise<BenchRow[]> {
  ctx.progress("publish: starting a 3-node cluster");
  const broker = await startTestBroker({ nodes: 3 });
  try {
    const js = jetstream(await broker.connect());
    const rows: BenchRow[] = [];
    const awaited = await (async () => {
      ctx.progress(`publish: awaited one at a time for ${ctx.seconds}s`);
      return measureDirectPublish(js, { subject: "events.bench.direct", payload: PAYLOAD, inFlight: 1, seconds: ctx.seconds });
    })();
    rows.push(
      { group: "publish", name: "Node → JetStream R3, awaited (1 KB)", value: awaited.rate, unit: "msg/s", better: "higher" },
      { group: "publish", name: "Node → JetStream R3, awaited, p50 ack", value: awaited.p50Ms, unit: "ms", better: "lower" },
    );
    for (const inFlight of [100, 1000]) {
      ctx.progress(`publish: ${inFlight} in flight for ${ctx.seconds}s`);
      const many = await measureDirectPublish(js, { subject: "events.bench.direct", payload: PAYLOAD, inFlight, seconds: ctx.seconds });
      rows.push({
        group: "publish",
        name: `Node → JetStream R3, ${inFlight} in flight (1 KB)`,
        value: many.rate,
        unit: "msg/s",
        better: "higher",
        ratio: { against: "awaited one at a time", value: many.rate / awaited.rate },
      });
    }
    return rows;
  } finally {
    await broker.stop();
  }
}
