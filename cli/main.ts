#!/usr/bin/env node
// The one `jetgate` command. Each part of the system registers its own subcommands; this file
// only wires them together and maps errors to exit codes (0 ok, 1 findings/failure, 2 usage).
import { Command, CommanderError } from "commander";
import { registerBridgeCommands } from "../bridge/index.ts";
import { registerEdgeCommands } from "../worker/node/cli.ts";
import { registerRegistryCommands } from "../registry/cli.ts";
import { registerStackCommands } from "../scripts/stack.ts";

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
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  console.error(err instanceof Error ? err.message : err);
  process.exit(typeof (err as { exitCode?: unknown }).exitCode === "number" ? (err as { exitCode: number }).exitCode : 1);
}
