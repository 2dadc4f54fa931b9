// Direct Node → JetStream publishing: the physical limit of the publish path on this machine.
// Every ingest benchmark reports itself against these figures, measured in the same run.
import type { JetStreamClient } from "@nats-io/jetstream";
import { percentile } from "./lib.ts";

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
  const total = Math.round(opts.rate * opts.seconds);
  const latencies: number[] = [];
  const pending: Array<Promise<void>> = [];
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / opts.rate - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const t0 = performance.now();
    pending.push(js.publish(opts.subject, opts.payload).then(() => void latencies.push(performance.now() - t0)));
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - started) / 1000;
  return { rate: latencies.length / elapsed, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), count: latencies.length };
}
