// The bridge's dev face: the demo webhook receiver of the local stack, and the bundle build
// (esbuild, a devDependency) that the bundle test and the delivery benchmark start. Production
// commands load the bridge's face, bridge/index.ts, which never imports this one.
export { startDemoReceiver, type DemoReceiverOptions } from "./demo-receiver.ts";
export { buildBridgeBundle, bridgeNodeArgs, BRIDGE_BUNDLE, BRIDGE_NODE_FLAGS } from "../build.ts";
