#!/usr/bin/env node
// The one `jetgate` command. Each part of the system registers its own subcommands through its
// public face (index.ts); this file only wires them together and maps errors to exit codes.
import { Command } from "commander";
import { registerBridgeCommands } from "../bridge/index.ts";
import { registerEdgeCommands } from "../worker/index.ts";
import { registerRegistryCommands } from "../registry/index.ts";
import { registerStackCommands } from "../scripts/index.ts";
import { exitCodeOf, shouldPrint } from "./exit-codes.ts";

const program = new Command("jetgate")
  .description("Events from the internet into NATS JetStream and out to webhooks")
  .showHelpAfterError()
  .exitOverride();

// Registration: one line per part. Keep this list short and alphabetical.
const parts: Array<(program: Command) => void> = [
  registerBridgeCommands,
  registerEdgeCommands,
  registerRegistryCommands,
  registerStackCommands,
];

for (const register of parts) register(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (shouldPrint(err)) console.error(err instanceof Error ? err.message : err);
  process.exit(exitCodeOf(err));
}
