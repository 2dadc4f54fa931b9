// The Node edge's socket metrics in Prometheus form (prom-client), served at GET /metrics: sockets
// open, frames in and out, publishes by outcome, fan-out lag, slow-consumer closes. workerd has no
// scrape endpoint; there the same counts go into each socket's closing log line (sockets/stats.ts).
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { SocketStats } from "../sockets/stats.ts";

export class SocketMetrics implements SocketStats {
  readonly registry = new Registry();
  private readonly open = new Gauge({ name: "jetgate_edge_sockets_open", help: "Browser WebSockets open now", labelNames: ["protocol"], registers: [this.registry] });
  private readonly closes = new Counter({ name: "jetgate_edge_socket_closes_total", help: "Browser WebSockets closed, by close code", labelNames: ["code"], registers: [this.registry] });
  private readonly framesIn = new Counter({ name: "jetgate_edge_socket_frames_in_total", help: "Frames received from browser sockets", registers: [this.registry] });
  private readonly framesOut = new Counter({ name: "jetgate_edge_socket_frames_out_total", help: "Frames sent to browser sockets", registers: [this.registry] });
  private readonly publishes = new Counter({
    name: "jetgate_edge_socket_publishes_total",
    help: "Publishes over sockets, by outcome: acked, duplicate, or the refusal's problem code",
    labelNames: ["outcome"],
    registers: [this.registry],
  });
  private readonly lag = new Histogram({
    name: "jetgate_edge_socket_fanout_lag_seconds",
    help: "From JetStream storing an event to the edge sending it to a subscribed socket",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
    registers: [this.registry],
  });
  private readonly slow = new Counter({ name: "jetgate_edge_socket_slow_consumers_total", help: "Sockets closed with 1013 for falling behind", registers: [this.registry] });

  opened(protocol: string): void {
    this.open.inc({ protocol });
  }
  closed(code: number, protocol: string): void {
    this.closes.inc({ code: String(code) });
    this.open.dec({ protocol });
  }
  frameIn(): void {
    this.framesIn.inc();
  }
  frameOut(): void {
    this.framesOut.inc();
  }
  published(outcome: string): void {
    this.publishes.inc({ outcome });
  }
  fanoutLag(ms: number): void {
    this.lag.observe(Math.max(0, ms) / 1000);
  }
  slowConsumer(): void {
    this.slow.inc();
  }
}
