// The bridge on its own, settings from JETGATE_BRIDGE_* variables. This is the entry that
// bridge/build.ts bundles into dist/bridge.mjs, which `jetgate bridge` runs with plain node
// (it loads none of the other parts' modules). SIGINT/SIGTERM stop it gracefully; a repeated
// signal (a terminal's Ctrl-C reaches both `jetgate` and this process) waits for the same stop.
import { loadBridgeConfig, type BridgeConfig } from "./config.ts";
import { BridgeError } from "./errors.ts";
import { startBridge } from "./service.ts";

/** The checked config; a bad setting exits 2, the usage exit code of every jetgate command (cli/exit-codes.ts). */
function configOrExit(): BridgeConfig {
  try {
    return loadBridgeConfig(process.env);
  } catch (err) {
    if (!(err instanceof BridgeError) || err.code !== "CONFIG_INVALID") throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
}

const bridge = await startBridge(configOrExit());
process.stderr.write(`jetgate bridge listening on ${bridge.url}\n`);
const stop = () => void bridge.stop().then(() => process.exit(0));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
