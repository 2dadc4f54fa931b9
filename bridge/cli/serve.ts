// `jetgate bridge`: run the webhook bridge. Settings come from JETGATE_BRIDGE_* (bridge/config.ts);
// the flags override four of them. The config is checked here first, so a bad setting fails with
// the CLI's exit code before anything starts; the bridge itself runs as a child process
// (bridge/build.ts says which one) that reads the same settings from its environment.
import { spawn } from "node:child_process";
import type { Command } from "commander";
import { bridgeEnv, type BridgeConfig } from "../config.ts";
import { bridgeProcessArgs } from "../build.ts";
import { cliConfig, int, list, withConnectionOptions, type ConnectionOptions } from "./options.ts";

export function registerServeCommand(program: Command): void {
  withConnectionOptions(program.command("bridge"))
    .description("run the webhook bridge (settings from JETGATE_BRIDGE_* variables, see docs/operators.md)")
    .option("--host <host>", "admin API host")
    .option("--port <port>", "admin API port", int)
    .option("--ssrf-allow <cidrs>", "private addresses receivers may use, comma separated", list)
    .action(async (opts: ConnectionOptions & { host?: string; port?: number; ssrfAllow?: string[] }) => {
      const overrides: Partial<BridgeConfig> = { servers: opts.servers, host: opts.host, port: opts.port, ssrfAllow: opts.ssrfAllow };
      cliConfig(overrides);
      process.exitCode = await runBridgeProcess(overrides);
    });
}

/** Starts the bridge as a child with the overrides in its environment; forwards SIGINT/SIGTERM; returns its exit code. */
async function runBridgeProcess(overrides: Partial<BridgeConfig>): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...bridgeEnv(overrides) };
  const { args, note } = await bridgeProcessArgs();
  if (note) process.stderr.write(`jetgate bridge: ${note}\n`);
  const child = spawn(process.execPath, args, { stdio: "inherit", env });
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
