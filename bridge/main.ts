// The bridge on its own, settings from JETGATE_BRIDGE_* variables. This is the entry that
// bridge/build.ts bundles into dist/bridge.mjs, which `jetgate bridge` runs with plain node
// (it loads none of the other parts' modules). SIGINT/SIGTERM stop it gracefully; a repeated
// signal (a terminal's Ctrl-C reaches both `jetgate` and this process) waits for the same stop.
import { loadBridgeConfig } from "./config.ts";
import { startBridge } from "./service.ts";

const bridge = await startBridge(loadBridgeConfig(process.env));
process.stderr.write(`jetgate bridge listening on ${bridge.url}\n`);
const stop = () => void bridge.stop().then(() => process.exit(0));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
