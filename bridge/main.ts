// The bridge on its own: `node --import tsx bridge/main.ts` (what `jetgate bridge` does, without
// loading the other parts' commands — the edge's and registry's modules cost the bridge ~tens of MB).
// Settings from JETGATE_BRIDGE_* variables; SIGINT/SIGTERM stop it gracefully.
import { loadBridgeConfig } from "./config.ts";
import { startBridge } from "./service.ts";

const bridge = await startBridge(loadBridgeConfig(process.env));
process.stderr.write(`jetgate bridge listening on ${bridge.url}\n`);
const stop = () => void bridge.stop().then(() => process.exit(0));
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
