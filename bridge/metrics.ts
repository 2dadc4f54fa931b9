// Prometheus metrics of one bridge instance, on its own registry (several bridges can run in one
// process, as in the tests). Lag and DLQ depth are read from JetStream when scraped; a read that
// fails leaves that gauge empty for the scrape and is counted, never shown as zero.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export class BridgeMetrics {
  readonly registry = new Registry();
  readonly deliveries: Counter<"subscription" | "outcome">;
  readonly attemptSeconds: Histogram<"subscription">;
  readonly inFlight: Gauge<"subscription">;
  readonly consumerLag: Gauge<"subscription">;
  readonly dlqDepth: Gauge<"subscription">;
  readonly attemptRecordsLost: Counter<"subscription" | "outcome">;
  readonly readFailures: Counter<"metric">;
  readonly fanoutPending: Gauge;
  readonly tasksFanned: Counter;
  readonly filtered: Counter<"subscription" | "outcome">;
  private backfillsPending: () => number = () => 0;

  /** Where the backfills gauge reads from (the runner is made after the metrics). */
  watchBackfills(pending: () => number): void {
    this.backfillsPending = pending;
  }

  constructor(collect: { lag: () => Promise<Map<string, number>>; dlq: () => Promise<Map<string, number>>; fanout: () => Promise<number> }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "jetgate_bridge_" });
    const readFailures = new Counter({
      name: "jetgate_metric_read_failures_total",
      help: "Scrapes in which reading a gauge from JetStream failed (that gauge is empty for the scrape)",
      labelNames: ["metric"],
      registers,
    });
    this.readFailures = readFailures;
    /** The gauge's values, or none when JetStream could not be read (counted above). */
    const read = (metric: string, collectFn: () => Promise<Map<string, number>>) =>
      collectFn().catch(() => {
        readFailures.inc({ metric });
        return new Map<string, number>();
      });
    this.deliveries = new Counter({
      name: "jetgate_deliveries_total",
      help: "Delivery attempts by outcome: delivered, retrying, dead-lettered, disabled, aborted",
      labelNames: ["subscription", "outcome"],
      registers,
    });
    this.attemptSeconds = new Histogram({
      name: "jetgate_delivery_attempt_seconds",
      help: "HTTP attempt latency, from request start to the end of the response",
      labelNames: ["subscription"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.inFlight = new Gauge({
      name: "jetgate_deliveries_in_flight",
      help: "Deliveries held by this instance (sending or waiting for a slot)",
      labelNames: ["subscription"],
      registers,
    });
    this.consumerLag = new Gauge({
      name: "jetgate_consumer_lag",
      help: "Deliveries waiting for the subscription: its tasks not yet delivered (retries waiting and held ones included), or for an ordered one its durables' num_pending",
      labelNames: ["subscription"],
      registers,
      async collect() {
        this.reset();
        for (const [sub, lag] of await read("jetgate_consumer_lag", collect.lag)) this.set({ subscription: sub }, lag);
      },
    });
    this.dlqDepth = new Gauge({
      name: "jetgate_dlq_depth",
      help: "Dead letters held in the DLQ stream per subscription",
      labelNames: ["subscription"],
      registers,
      async collect() {
        this.reset();
        for (const [sub, depth] of await read("jetgate_dlq_depth", collect.dlq)) this.set({ subscription: sub }, depth);
      },
    });
    this.fanoutPending = new Gauge({
      name: "jetgate_fanout_pending",
      help: "Events in EVENTS not yet fanned out into delivery tasks (the shared fan-out durable's num_pending + unacked)",
      registers,
      async collect() {
        this.reset();
        const pending = await collect.fanout().catch(() => {
          readFailures.inc({ metric: "jetgate_fanout_pending" });
          return null;
        });
        if (pending !== null) this.set(pending);
      },
    });
    this.tasksFanned = new Counter({
      name: "jetgate_fanout_tasks_total",
      help: "Delivery tasks written by this instance's fan-out (one per event and subscription it is owed to)",
      registers,
    });
    this.filtered = new Counter({
      name: "jetgate_subscription_filtered_total",
      help: "Events a subscription's types selected but its where filter did not deliver: no_match (false) or error (the expression failed on the event, e.g. a missing field)",
      labelNames: ["subscription", "outcome"],
      registers,
    });
    const metrics = this;
    new Gauge({
      name: "jetgate_backfills_pending",
      help: "Backfills (start positions before a subscription joined, migrations) not finished, as this instance sees them",
      registers,
      collect() {
        this.set(metrics.backfillsPending());
      },
    });
    this.attemptRecordsLost = new Counter({
      name: "jetgate_attempt_records_lost_total",
      help: "Failed-attempt records the attempt log could not store after retrying (the dead letter counts them as unrecorded deliveries)",
      labelNames: ["subscription", "outcome"],
      registers,
    });
  }
}
