// `jetgate subscriptions apply FILE`: a declarative YAML list of subscriptions, applied
// idempotently (unchanged entries are not rewritten, so applying twice changes nothing).
import { readFile } from "node:fs/promises";
import type { NatsConnection } from "@nats-io/nats-core";
import { parse } from "yaml";
import type { UntilReadyOptions } from "../../broker/jetstream/index.ts";
import type { RegistrySource } from "../registry/index.ts";
import { BridgeError } from "../errors.ts";
import { applySubscriptions, ssrfPolicy, type ApplyResult } from "./operations.ts";
import { SubscriptionStore } from "./store.ts";

/** The list in a subscriptions file: `subscriptions: [...]` at the top, or a bare list. */
export function parseSubscriptionsYaml(text: string, source = "subscriptions file"): unknown[] {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new BridgeError("FILE_INVALID", `${source}: not valid YAML: ${(err as Error).message}`, { source });
  }
  const list = Array.isArray(doc) ? doc : (doc as { subscriptions?: unknown } | null)?.subscriptions;
  if (!Array.isArray(list)) throw new BridgeError("FILE_INVALID", `${source}: expected a top-level "subscriptions:" list`, { source });
  return list;
}

export interface ApplyFileOptions {
  /** Private/loopback addresses the URLs may point to (e.g. ["127.0.0.1"] for the local stack). */
  ssrfAllow?: string[];
  httpsOnly?: boolean;
  /** Delete subscriptions that are not in the file. */
  prune?: boolean;
  /** Deadline and log line while the subscriptions bucket has no leader yet (after a restart). */
  wait?: UntilReadyOptions;
  /** The registry build pinned versions are checked against (none: not checked). */
  registry?: RegistrySource;
}

export async function applySubscriptionsFile(nc: NatsConnection, path: string, opts: ApplyFileOptions = {}): Promise<ApplyResult> {
  const text = await readFile(path, "utf8").catch((err: unknown) => {
    throw new BridgeError("FILE_INVALID", `cannot read ${path}: ${(err as Error).message}`, { path });
  });
  const inputs = parseSubscriptionsYaml(text, path);
  const store = await SubscriptionStore.open(nc, opts.wait);
  return applySubscriptions(store, inputs, ssrfPolicy(opts), { prune: opts.prune ?? false, registry: opts.registry });
}
