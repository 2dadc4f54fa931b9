// `jetgate bridge`, `jetgate subscriptions …`, `jetgate dlq …`, `jetgate replay …`. Commands talk
// to NATS directly (the same library calls the admin API makes), so they need no admin token.
import { spawn } from "node:child_process";
import type { Command } from "commander";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import cliProgress from "cli-progress";
import { stringify } from "yaml";
import { listAttempts } from "../recovery/attempt-log.ts";
import { loadBridgeConfig } from "../config.ts";
import { getDeadLetter, listDeadLetters, purgeDeadLetters, redriveDeadLetters } from "../recovery/dlq.ts";
import { parseDuration } from "../duration.ts";
import { BridgeError } from "../errors.ts";
import { rotateSecret, setEnabled } from "../subscriptions/operations.ts";
import { replayToSubscription, type Progress } from "../recovery/redrive.ts";
import { bridgeNodeArgs, buildBridgeBundle } from "../build.ts";
import type { BridgeConfig } from "../config.ts";
import { SubscriptionStore } from "../subscriptions/store.ts";
import { applySubscriptionsFile } from "../subscriptions/file.ts";
import { redact } from "../admin/api.ts";

const DEFAULT_SERVERS = process.env.JETGATE_BRIDGE_NATS_SERVERS ?? "nats://127.0.0.1:4222";

async function withNats<T>(servers: string, fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: servers.split(","), name: "jetgate-cli", timeout: 5000 });
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
}

function progressBar(label: string): Progress {
  const bar = new cliProgress.SingleBar({ format: `${label} [{bar}] {value}/{total}`, stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
  return {
    start: (total) => bar.start(total, 0),
    update: (done) => bar.update(done),
    stop: () => bar.stop(),
  };
}

function print(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

function int(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new BridgeError("REQUEST_INVALID", `not a non-negative integer: ${value}`);
  return n;
}

function date(value: string): Date {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new BridgeError("REQUEST_INVALID", `not an ISO time: ${value}`);
  return d;
}

function list(value: string): string[] {
  return value.split(",").map((s) => s.trim()).filter(Boolean);
}

export function registerBridgeCommands(program: Command): void {
  program
    .command("bridge")
    .description("run the webhook bridge (settings from JETGATE_BRIDGE_* variables, see README)")
    .option("--servers <urls>", "NATS servers, comma separated")
    .option("--host <host>", "admin API host")
    .option("--port <port>", "admin API port", int)
    .option("--ssrf-allow <cidrs>", "private addresses receivers may use, comma separated", list)
    .action(async (opts: { servers?: string; host?: string; port?: number; ssrfAllow?: string[] }) => {
      const overrides: Partial<BridgeConfig> = {
        ...(opts.servers ? { servers: list(opts.servers) } : {}),
        ...(opts.host ? { host: opts.host } : {}),
        ...(opts.port !== undefined ? { port: opts.port } : {}),
        ...(opts.ssrfAllow ? { ssrfAllow: opts.ssrfAllow } : {}),
      };
      // Checked here first, so a bad setting fails with the CLI's exit code before anything starts.
      loadBridgeConfig(process.env, overrides);
      process.exitCode = await runBundledBridge(overrides);
    });

  const subs = program.command("subscriptions").description("manage webhook subscriptions");
  subs
    .command("apply <file>")
    .description("create or update the subscriptions in a YAML file (idempotent)")
    .option("--servers <urls>", "NATS servers", DEFAULT_SERVERS)
    .option("--ssrf-allow <cidrs>", "private addresses the URLs may use", list, list(process.env.JETGATE_BRIDGE_SSRF_ALLOW ?? ""))
    .option("--https-only", "refuse http URLs")
    .option("--prune", "delete subscriptions that are not in the file")
    .action(async (file: string, o: { servers: string; ssrfAllow: string[]; httpsOnly?: boolean; prune?: boolean }) => {
      // Run right after a cluster restart, this waits for the bucket's leader: say so on stderr.
      const wait = { onWait: (line: string) => process.stderr.write(`${line}\n`) };
      const result = await withNats(o.servers, (nc) => applySubscriptionsFile(nc, file, { ssrfAllow: o.ssrfAllow, httpsOnly: o.httpsOnly ?? false, prune: o.prune ?? false, wait }));
      print(result);
    });
  subs
    .command("list")
    .option("--servers <urls>", "NATS servers", DEFAULT_SERVERS)
    .action(async (o: { servers: string }) => {
      const all = await withNats(o.servers, async (nc) => (await SubscriptionStore.open(nc)).list());
      console.log(stringify({ subscriptions: all.map(redact) }));
    });
  subs
    .command("get <id>")
    .option("--servers <urls>", "NATS servers", DEFAULT_SERVERS)
    .action(async (id: string, o: { servers: string }) => {
      print(redact(await withNats(o.servers, async (nc) => (await (await SubscriptionStore.open(nc)).require(id)).sub)));
    });
  subs
    .command("delete <id>")
    .option("--servers <urls>", "NATS servers", DEFAULT_SERVERS)
    .action(async (id: string, o: { servers: string }) => {
      await withNats(o.servers, async (nc) => (await SubscriptionStore.open(nc)).delete(id));
      console.log(`deleted ${id}`);
    });
  for (const [name, enabled] of [["enable", true], ["disable", false]] as const) {
    subs
      .command(`${name} <id>`)
      .option("--servers <urls>", "NATS servers", DEFAULT_SERVERS)
      .action(async (id: string, o: { servers: string }) => {
        print(redact(await withNats(o.servers, async (nc) => setEnabled(await SubscriptionStore.open(nc), id, enabled))));
      });
  }
  subs
    .command("rotate-secret <id>")
    .description("add a new signing secret; the old one keeps signing for --overlap")
    .option("--servers <urls>", "NATS servers", DEFAULT_SERVERS)
    .option("--secret <whsec>", "use this secret instead of a generated one")
    .option("--overlap <duration>", "how long the old secret keeps signing", "24h")
    .action(async (id: string, o: { servers: string; secret?: string; overlap: string }) => {
      const overlapMs = parseDuration(o.overlap);
      if (overlapMs === null) throw new BridgeError("REQUEST_INVALID", `not a duration: ${o.overlap}`);
      const { secret } = await withNats(o.servers, async (nc) => rotateSecret(await SubscriptionStore.open(nc), id, { ...(o.secret ? { secret: o.secret } : {}), overlapMs }));
      console.log(secret);
    });
  subs
    .command("attempts <id>")
    .description("the delivery log of a subscription")
    .option("--servers <urls>", "NATS servers", DEFAULT_SERVERS)
    .option("--event <eventId>", "only events with this id")
    .option("--source <source>", "with --event: only the event from this source")
    .option("--since <iso>", "only attempts since this time", date)
    .option("--limit <n>", "newest N", int, 50)
    .action(async (id: string, o: { servers: string; event?: string; source?: string; since?: Date; limit: number }) => {
      const event = o.event ? { eventId: o.event, ...(o.source ? { eventSource: o.source } : {}) } : {};
      const rows = await withNats(o.servers, (nc) => listAttempts(nc, { subscription: id, limit: o.limit, ...event, ...(o.since ? { since: o.since } : {}) }));
      for (const a of rows) console.log(`${a.at} ${a.eventSource} ${a.eventId} #${a.attempt} ${a.status || a.error} ${a.latencyMs}ms ${a.outcome}`);
    });

  const dlq = program.command("dlq").description("inspect and redrive dead letters");
  dlq
    .command("list")
    .option("--servers <urls>", "NATS servers", DEFAULT_SERVERS)
    .option("--subscription <id>")
    .option("--type <type>", "event type")
    .option("--limit <n>", "at most N", int, 100)
    .action(async (o: { servers: string; subscription?: string; type?: string; limit: number }) => {
      const rows = await withNats(o.servers, (nc) => listDeadLetters(nc, { limit: o.limit, ...(o.subscription ? { subscription: o.subscription } : {}), ...(o.type ? { type: o.type } : {}) }));
      for (const d of rows) console.log(`${d.seq}\t${d.subscription}\t${d.eventType}\t${d.eventSource}\t${d.eventId}\t${d.attempts} attempts\t${d.deadAt}\t${d.reason}`);
    });
  dlq
    .command("show <seq>")
    .option("--servers <urls>", "NATS servers", DEFAULT_SERVERS)
    .action(async (seq: string, o: { servers: string }) => print(await withNats(o.servers, (nc) => getDeadLetter(nc, int(seq)))));
  dlq
    .command("redrive [seq]")
    .description("send dead letters back to their own subscription: one (SEQ), a filter, or --all")
    .option("--servers <urls>", "NATS servers", DEFAULT_SERVERS)
    .option("--subscription <id>")
    .option("--type <type>", "event type")
    .option("--since <iso>", "dead since", date)
    .option("--all", "every dead letter")
    .action(async (seq: string | undefined, o: { servers: string; subscription?: string; type?: string; since?: Date; all?: boolean }) => {
      if (seq === undefined && !o.subscription && !o.type && !o.since && !o.all) throw new BridgeError("REQUEST_INVALID", "say what to redrive: SEQ, --subscription/--type/--since, or --all");
      const sel = { ...(seq !== undefined ? { seq: int(seq) } : {}), ...(o.subscription ? { subscription: o.subscription } : {}), ...(o.type ? { type: o.type } : {}), ...(o.since ? { since: o.since } : {}) };
      print(await withNats(o.servers, (nc) => redriveDeadLetters(nc, sel, progressBar("redrive"))));
    });
  dlq
    .command("purge")
    .option("--servers <urls>", "NATS servers", DEFAULT_SERVERS)
    .option("--subscription <id>")
    .option("--all", "every dead letter")
    .action(async (o: { servers: string; subscription?: string; all?: boolean }) => {
      if (!o.subscription && !o.all) throw new BridgeError("REQUEST_INVALID", "purge needs --subscription ID or --all");
      print(await withNats(o.servers, (nc) => purgeDeadLetters(nc, o.subscription)));
    });

  program
    .command("replay <subscription>")
    .description("deliver a range of EVENTS again, to this one subscription")
    .option("--servers <urls>", "NATS servers", DEFAULT_SERVERS)
    .option("--from-seq <n>", "first stream sequence", int)
    .option("--to-seq <n>", "last stream sequence", int)
    .option("--from-time <iso>", "first event time", date)
    .option("--to-time <iso>", "last event time", date)
    .action(async (id: string, o: { servers: string; fromSeq?: number; toSeq?: number; fromTime?: Date; toTime?: Date }) => {
      const range = Object.fromEntries(Object.entries({ fromSeq: o.fromSeq, toSeq: o.toSeq, fromTime: o.fromTime, toTime: o.toTime }).filter(([, v]) => v !== undefined));
      print(await withNats(o.servers, async (nc) => replayToSubscription(nc, await SubscriptionStore.open(nc), id, range, progressBar("replay"))));
    });
}

/**
 * `jetgate bridge`: builds dist/bridge.mjs and runs it with plain node and the bridge's node flags
 * (bridge/build.ts) — the same process operators run and the delivery benchmark measures — as a
 * child of this CLI, which forwards SIGINT/SIGTERM and returns its exit code.
 */
async function runBundledBridge(overrides: Partial<BridgeConfig>): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (overrides.servers) env.JETGATE_BRIDGE_NATS_SERVERS = overrides.servers.join(",");
  if (overrides.host) env.JETGATE_BRIDGE_HOST = overrides.host;
  if (overrides.port !== undefined) env.JETGATE_BRIDGE_PORT = String(overrides.port);
  if (overrides.ssrfAllow) env.JETGATE_BRIDGE_SSRF_ALLOW = overrides.ssrfAllow.join(",");
  const bundle = await buildBridgeBundle();
  // Nothing else is built in this process: let esbuild's service process go instead of idling beside the bridge.
  await (await import("esbuild")).stop();
  const child = spawn(process.execPath, bridgeNodeArgs(bundle), { stdio: "inherit", env });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    });
  } finally {
    process.off("SIGINT", forward);
    process.off("SIGTERM", forward);
  }
}
