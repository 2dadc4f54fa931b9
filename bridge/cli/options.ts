// What every bridge command shares: the connection options (defined once, here), argument parsers
// whose failures are usage errors (commander's InvalidArgumentError: exit 2, cli/exit-codes.ts),
// and how results are printed. Connection settings come through bridge/config.ts: a flag, else
// the JETGATE_BRIDGE_* variable, else the default, checked once.
import { InvalidArgumentError, Option, type Command } from "commander";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import cliProgress from "cli-progress";
import { BRIDGE_DEFAULTS, loadBridgeConfig, type BridgeConfig } from "../config.ts";
import type { Progress } from "../recovery/redrive.ts";

/** `--servers`, on every command that talks to NATS. */
export interface ConnectionOptions {
  servers?: string[];
}

export function withConnectionOptions(command: Command): Command {
  return command.addOption(
    new Option("--servers <urls>", `NATS servers, comma separated (default: JETGATE_BRIDGE_NATS_SERVERS, else ${BRIDGE_DEFAULTS.servers.join(",")})`).argParser(list),
  );
}

/** The bridge config with the command's flags over the environment; throws CONFIG_INVALID. */
export function cliConfig(overrides: Partial<BridgeConfig> = {}): BridgeConfig {
  return loadBridgeConfig(process.env, overrides);
}

/** Connects as the bridge would (servers and NATS login from the config), runs `fn`, closes. */
export async function withNats<T>(opts: ConnectionOptions, fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const config = cliConfig({ servers: opts.servers });
  const nc = await connect({
    servers: config.servers,
    name: "jetgate-cli",
    timeout: 5000,
    ...(config.natsUser ? { user: config.natsUser, pass: config.natsPass } : {}),
    ...(config.natsToken ? { token: config.natsToken } : {}),
  });
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
}

export function progressBar(label: string): Progress {
  const bar = new cliProgress.SingleBar({ format: `${label} [{bar}] {value}/{total}`, stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
  return {
    start: (total) => bar.start(total, 0),
    update: (done) => bar.update(done),
    stop: () => bar.stop(),
  };
}

export function print(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

export function int(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`not a non-negative integer: ${value}`);
  return n;
}

export function date(value: string): Date {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new InvalidArgumentError(`not an ISO time: ${value}`);
  return d;
}

export function list(value: string): string[] {
  return value.split(",").map((s) => s.trim()).filter(Boolean);
}

/** A usage error found in an action (a missing selection): printed with the help, exit 2. */
export function usageError(command: Command, message: string): never {
  return command.error(`error: ${message}`, { exitCode: 2, code: "USAGE" });
}
