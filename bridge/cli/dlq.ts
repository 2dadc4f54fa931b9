// `jetgate dlq …`: list, show, redrive and purge dead letters.
import type { Command } from "commander";
import { getDeadLetter, listDeadLetters, purgeDeadLetters, redriveDeadLetters } from "../recovery/dlq.ts";
import { date, int, print, progressBar, usageError, withConnectionOptions, withNats, type ConnectionOptions } from "./options.ts";

export function registerDlqCommands(program: Command): void {
  const dlq = program.command("dlq").description("inspect and redrive dead letters");
  withConnectionOptions(dlq.command("list"))
    .option("--subscription <id>")
    .option("--type <type>", "event type")
    .option("--limit <n>", "at most N", int, 100)
    .action(async (o: ConnectionOptions & { subscription?: string; type?: string; limit: number }) => {
      const rows = await withNats(o, (nc) => listDeadLetters(nc, { limit: o.limit, ...(o.subscription ? { subscription: o.subscription } : {}), ...(o.type ? { type: o.type } : {}) }));
      for (const d of rows) console.log(`${d.seq}\t${d.subscription}\t${d.eventType}\t${d.eventSource}\t${d.eventId}\t${d.attempts} attempts\t${d.deadAt}\t${d.reason}`);
    });
  withConnectionOptions(dlq.command("show"))
    .argument("<seq>", "the dead letter's sequence in the DLQ stream", int)
    .action(async (seq: number, o: ConnectionOptions) => print(await withNats(o, (nc) => getDeadLetter(nc, seq))));
  withConnectionOptions(dlq.command("redrive"))
    .description("send dead letters back to their own subscription: one (SEQ), a filter, or --all")
    .argument("[seq]", "one dead letter's sequence", int)
    .option("--subscription <id>")
    .option("--type <type>", "event type")
    .option("--since <iso>", "dead since", date)
    .option("--all", "every dead letter")
    .action(async (seq: number | undefined, o: ConnectionOptions & { subscription?: string; type?: string; since?: Date; all?: boolean }, command: Command) => {
      if (seq === undefined && !o.subscription && !o.type && !o.since && !o.all) usageError(command, "say what to redrive: SEQ, --subscription/--type/--since, or --all");
      const sel = { ...(seq !== undefined ? { seq } : {}), ...(o.subscription ? { subscription: o.subscription } : {}), ...(o.type ? { type: o.type } : {}), ...(o.since ? { since: o.since } : {}) };
      print(await withNats(o, (nc) => redriveDeadLetters(nc, sel, progressBar("redrive"))));
    });
  withConnectionOptions(dlq.command("purge"))
    .option("--subscription <id>")
    .option("--all", "every dead letter")
    .action(async (o: ConnectionOptions & { subscription?: string; all?: boolean }, command: Command) => {
      if (!o.subscription && !o.all) usageError(command, "purge needs --subscription ID or --all");
      print(await withNats(o, (nc) => purgeDeadLetters(nc, o.subscription)));
    });
}
