// Direct Node → JetStream publishing: the physical limit of the publish path on this machine.
// Every ingest benchmark reports itself against these figures, measured in the same run.
import type { JetStreamClient } from "@nats-io/jetstream";
import { percentile } from "./lib.ts";
import { paced } from "./paced.ts";

export interface PublishFigures {
  rate: number;
  p50Ms: number;
  p99Ms: number;
  count: number;
}

/**
 * Publishes `payload` to `subject` for `seconds`, keeping `inFlight` publishes outstanding, and
 * returns acked messages per second with ack latency percentiles. Bounded by time and by `maxCount`.
 */
export async function measureDirectPublish(
  js: JetStreamClient,
  opts: { subject: string; payload: Uint8Array; inFlight: number; seconds: number; maxCount?: number },
): Promise<PublishFigures> {
  const maxCount = opts.maxCount ?? 2_000_000;
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + opts.seconds * 1000;
  let sent = 0;
  const lane = async () => {
    while (performance.now() < deadline && sent < maxCount) {
      sent++;
      const t0 = performance.now();
      await js.publish(opts.subject, opts.payload);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: opts.inFlight }, lane));
  const elapsed = (performance.now() - started) / 1000;
  return {
    rate: latencies.length / elapsed,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    count: latencies.length,
  };
}

/**
 * Open loop: publishes `rate` messages a second for `seconds`, each at its due time whether or not
 * earlier acks came back, and returns the ack latency percentiles — the broker's own floor for
 * latency at that rate.
 */
export async function measurePacedPublish(
  js: JetStreamClient,
  opts: { subject: string; payload: Uint8Array; rate: number; seconds: number },
): Promise<PublishFigures> {
  const run = await paced(opts.rate, opts.seconds, () => js.publish(opts.subject, opts.payload));
  return { rate: run.rate, p50Ms: percentile(run.latencies, 50), p99Ms: percentile(run.latencies, 99), count: run.latencies.length };
}
