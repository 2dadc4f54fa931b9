// The bridge's commands: `jetgate bridge` (serve.ts), `jetgate subscriptions …`, `jetgate dlq …`
// and `jetgate replay …`, one module each; what they share (connection options, parsers, output)
// is options.ts.
import type { Command } from "commander";
import { registerServeCommand } from "./serve.ts";
import { registerSubscriptionCommands } from "./subscriptions.ts";
import { registerDlqCommands } from "./dlq.ts";
import { registerReplayCommand } from "./replay.ts";

export function registerBridgeCommands(program: Command): void {
  registerServeCommand(program);
  registerSubscriptionCommands(program);
  registerDlqCommands(program);
  registerReplayCommand(program);
}
