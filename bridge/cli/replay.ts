// `jetgate replay <subscription>`: deliver a range of EVENTS again, to that one subscription.
import type { Command } from "commander";
import { replayToSubscription } from "../recovery/redrive.ts";
import { SubscriptionStore } from "../subscriptions/store.ts";
import { date, int, print, progressBar, withConnectionOptions, withNats, type ConnectionOptions } from "./options.ts";

export function registerReplayCommand(program: Command): void {
  withConnectionOptions(program.command("replay <subscription>"))
    .description("deliver a range of EVENTS again, to this one subscription")
    .option("--from-seq <n>", "first stream sequence", int)
    .option("--to-seq <n>", "last stream sequence", int)
    .option("--from-time <iso>", "first event time", date)
    .option("--to-time <iso>", "last event time", date)
    .action(async (id: string, o: ConnectionOptions & { fromSeq?: number; toSeq?: number; fromTime?: Date; toTime?: Date }) => {
      const range = Object.fromEntries(Object.entries({ fromSeq: o.fromSeq, toSeq: o.toSeq, fromTime: o.fromTime, toTime: o.toTime }).filter(([, v]) => v !== undefined));
      print(await withNats(o, async (nc) => replayToSubscription(nc, await SubscriptionStore.open(nc), id, range, progressBar("replay"))));
    });
}
