// `jetgate subscriptions …`: apply a YAML file, list, get, delete, enable, disable, rotate-secret,
// attempts. They talk to NATS directly (the same library calls the admin API makes), so they need
// no admin token.
import { InvalidArgumentError, Option, type Command } from "commander";
import { stringify } from "yaml";
import { listAttempts } from "../recovery/attempt-log.ts";
import { parseDuration } from "../duration.ts";
import { DEFAULT_ROTATION_OVERLAP_MS, rotateSecret, setEnabled } from "../subscriptions/operations.ts";
import { SubscriptionStore } from "../subscriptions/store.ts";
import { applySubscriptionsFile } from "../subscriptions/file.ts";
import { loadBuild, LoadedRegistry, type RegistrySource } from "../registry/index.ts";
import { redact } from "../admin/api.ts";
import { cliConfig, date, int, list, print, withConnectionOptions, withNats, type ConnectionOptions } from "./options.ts";

function duration(value: string): number {
  const ms = parseDuration(value);
  if (ms === null) throw new InvalidArgumentError(`not a duration: ${value}`);
  return ms;
}

/** The registry build, loaded once (a command runs too briefly to watch it). */
async function loadRegistrySource(dir: string): Promise<RegistrySource> {
  const { compiled, hash } = await loadBuild(dir);
  const loaded = await LoadedRegistry.from(compiled, hash);
  return { current: () => loaded };
}

export function registerSubscriptionCommands(program: Command): void {
  const subs = program.command("subscriptions").description("manage webhook subscriptions");
  withConnectionOptions(subs.command("apply <file>"))
    .description("create or update the subscriptions in a YAML file (idempotent)")
    .option("--ssrf-allow <cidrs>", "private addresses the URLs may use (default: JETGATE_BRIDGE_SSRF_ALLOW)", list)
    .option("--https-only", "refuse http URLs (default: JETGATE_BRIDGE_HTTPS_ONLY)")
    .option("--prune", "delete subscriptions that are not in the file")
    .option("--registry <dir>", "registry build that pinned versions are checked against (default: JETGATE_BRIDGE_REGISTRY)")
    .action(async (file: string, o: ConnectionOptions & { ssrfAllow?: string[]; httpsOnly?: boolean; prune?: boolean; registry?: string }) => {
      const config = cliConfig({ ssrfAllow: o.ssrfAllow, httpsOnly: o.httpsOnly, registry: o.registry });
      const registry = config.registry ? await loadRegistrySource(config.registry) : undefined;
      // Run right after a cluster restart, this waits for the bucket's leader: say so on stderr.
      const wait = { onWait: (line: string) => process.stderr.write(`${line}\n`) };
      const result = await withNats(o, (nc) => applySubscriptionsFile(nc, file, { ssrfAllow: config.ssrfAllow, httpsOnly: config.httpsOnly, prune: o.prune ?? false, wait, registry }));
      print(result);
    });
  withConnectionOptions(subs.command("list")).action(async (o: ConnectionOptions) => {
    const all = await withNats(o, async (nc) => (await SubscriptionStore.open(nc)).list());
    console.log(stringify({ subscriptions: all.map(redact) }));
  });
  withConnectionOptions(subs.command("get <id>")).action(async (id: string, o: ConnectionOptions) => {
    print(redact(await withNats(o, async (nc) => (await (await SubscriptionStore.open(nc)).require(id)).sub)));
  });
  withConnectionOptions(subs.command("delete <id>")).action(async (id: string, o: ConnectionOptions) => {
    await withNats(o, async (nc) => (await SubscriptionStore.open(nc)).delete(id));
    console.log(`deleted ${id}`);
  });
  for (const [name, enabled] of [["enable", true], ["disable", false]] as const) {
    withConnectionOptions(subs.command(`${name} <id>`)).action(async (id: string, o: ConnectionOptions) => {
      print(redact(await withNats(o, async (nc) => setEnabled(await SubscriptionStore.open(nc), id, enabled))));
    });
  }
  withConnectionOptions(subs.command("rotate-secret <id>"))
    .description("add a new signing secret; the old one keeps signing for --overlap")
    .option("--secret <whsec>", "use this secret instead of a generated one")
    .addOption(new Option("--overlap <duration>", "how long the old secret keeps signing").argParser(duration).default(DEFAULT_ROTATION_OVERLAP_MS, `${DEFAULT_ROTATION_OVERLAP_MS / 3_600_000}h`))
    .action(async (id: string, o: ConnectionOptions & { secret?: string; overlap: number }) => {
      const { secret } = await withNats(o, async (nc) => rotateSecret(await SubscriptionStore.open(nc), id, { ...(o.secret ? { secret: o.secret } : {}), overlapMs: o.overlap }));
      console.log(secret);
    });
  withConnectionOptions(subs.command("attempts <id>"))
    .description("the delivery log of a subscription")
    .option("--event <eventId>", "only events with this id")
    .option("--source <source>", "with --event: only the event from this source")
    .option("--since <iso>", "only attempts since this time", date)
    .option("--limit <n>", "newest N", int, 50)
    .action(async (id: string, o: ConnectionOptions & { event?: string; source?: string; since?: Date; limit: number }) => {
      const event = o.event ? { eventId: o.event, ...(o.source ? { eventSource: o.source } : {}) } : {};
      const rows = await withNats(o, (nc) => listAttempts(nc, { subscription: id, limit: o.limit, ...event, ...(o.since ? { since: o.since } : {}) }));
      for (const a of rows) console.log(`${a.at} ${a.eventSource} ${a.eventId} #${a.attempt} ${a.status || a.error} ${a.latencyMs}ms ${a.outcome}`);
    });
}
