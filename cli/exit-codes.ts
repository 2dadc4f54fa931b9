// The exit code of every `jetgate` command, decided in this one place from the error's class
// (and, for the bridge's one error class, its code):
//   0  done (also --help and --version)
//   1  the command ran and failed: registry findings, a type that does not exist, a broker that
//      cannot be reached, a dead letter that is not there
//   2  usage: a bad command, option, argument or setting; nothing was done
import { CommanderError } from "commander";
import { BridgeError, type BridgeErrorCode } from "../bridge/index.ts";
import { ConfigError } from "../worker/index.ts";
import { RegistryError } from "../registry/index.ts";

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

/** Bridge codes that mean the command was asked something it cannot do, before doing anything. */
const BRIDGE_USAGE_CODES: ReadonlySet<BridgeErrorCode> = new Set(["CONFIG_INVALID", "REQUEST_INVALID"]);

export function exitCodeOf(err: unknown): number {
  // Commander's own errors: --help/--version (exit code 0), or a usage error it has printed.
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  // The registry's errors carry their exit code (registry/errors.ts): usage and repository errors 2.
  if (err instanceof RegistryError) return err.exitCode;
  if (err instanceof ConfigError) return EXIT_USAGE;
  if (err instanceof BridgeError) return BRIDGE_USAGE_CODES.has(err.code) ? EXIT_USAGE : EXIT_FAILURE;
  return EXIT_FAILURE;
}

/** Commander prints its own errors (and the help after them); everything else is printed once, here. */
export function shouldPrint(err: unknown): boolean {
  return !(err instanceof CommanderError);
}
