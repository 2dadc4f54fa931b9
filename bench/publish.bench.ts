// Direct publishing into a 3-node R3 cluster: awaited one at a time, and with many in flight; then
// the same with `sync_interval: always` (fsync before every ack, the production example) on a
// second cluster, so the cost of durability against power loss is a ratio measured in one run.
import { jetstream } from "@nats-io/jetstream";
import { eventSubject } from "../broker/index.ts";
import { startTestBroker } from "../test/harness/nats.ts";
import { measureDirectPublish } from "./direct-publish.ts";
import type { BenchContext, BenchRow } from "./lib.ts";

const PAYLOAD = new Uint8Array(1024).fill(120);
const SUBJECT = eventSubject("bench.direct");

async function lazyFsync(ctx: BenchContext, rows: BenchRow[]): Promise<number> {
  ctx.progress("publish: starting a 3-node cluster (default sync_interval)");
  const broker = await startTestBroker({ nodes: 3 });
  try {
    const js = jetstream(await broker.connect());
    ctx.progress(`publish: awaited one at a time for ${ctx.seconds}s`);
    const awaited = await measureDirectPublish(js, { subject: SUBJECT, payload: PAYLOAD, inFlight: 1, seconds: ctx.seconds });
    rows.push(
      { group: "publish", name: "Node → JetStream R3, awaited (1 KB)", value: awaited.rate, unit: "msg/s", better: "higher" },
      { group: "publish", name: "Node → JetStream R3, awaited, p50 ack", value: awaited.p50Ms, unit: "ms", better: "lower" },
    );
    let at100 = Number.NaN;
    for (const inFlight of [100, 1000]) {
      ctx.progress(`publish: ${inFlight} in flight for ${ctx.seconds}s`);
      const many = await measureDirectPublish(js, { subject: SUBJECT, payload: PAYLOAD, inFlight, seconds: ctx.seconds });
      if (inFlight === 100) at100 = many.rate;
      rows.push({
        group: "publish",
        name: `Node → JetStream R3, ${inFlight} in flight (1 KB)`,
        value: many.rate,
        unit: "msg/s",
        better: "higher",
        ratio: { against: "awaited one at a time", value: many.rate / awaited.rate },
      });
    }
    return at100;
  } finally {
    await broker.stop();
  }
}

async function fsyncAlways(ctx: BenchContext, rows: BenchRow[], lazyAt100: number): Promise<void> {
  ctx.progress("publish: starting a 3-node cluster with sync_interval: always");
  const broker = await startTestBroker({ nodes: 3, syncInterval: "always" });
  try {
    const js = jetstream(await broker.connect());
    for (const inFlight of [1, 100, 1000]) {
      ctx.progress(`publish: sync_interval always, ${inFlight} in flight for ${ctx.seconds}s`);
      const run = await measureDirectPublish(js, { subject: SUBJECT, payload: PAYLOAD, inFlight, seconds: ctx.seconds });
      rows.push({
        group: "publish",
        name: `Node → JetStream R3, sync_interval always, ${inFlight === 1 ? "awaited" : `${inFlight} in flight`} (1 KB)`,
        value: run.rate,
        unit: "msg/s",
        better: "higher",
        ...(inFlight === 100 ? { ratio: { against: "default sync_interval, 100 in flight", value: run.rate / lazyAt100 } } : {}),
        note: `p50 ack ${run.p50Ms.toFixed(2)} ms, p99 ${run.p99Ms.toFixed(2)} ms`,
      });
    }
  } finally {
    await broker.stop();
  }
}

export default async function publishBench(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const lazyAt100 = await lazyFsync(ctx, rows);
  await fsyncAlways(ctx, rows, lazyAt100);
  return rows;
}
