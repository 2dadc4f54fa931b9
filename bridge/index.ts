// The bridge room's public face: what the local stack, the CLI, tests and benchmarks import. It
// needs only the runtime dependencies (`jetgate bridge` runs after `npm ci --omit=dev`); the demo
// receiver and the bundle build are the dev face, bridge/dev/index.ts.
export { startBridge, type RunningBridge, type StartOptions } from "./service.ts";
export { loadBridgeConfig, checkBridgeConfig, BRIDGE_DEFAULTS, type BridgeConfig } from "./config.ts";
export { applySubscriptionsFile, parseSubscriptionsYaml, type ApplyFileOptions } from "./subscriptions/file.ts";
export { applySubscriptions, createSubscription, patchSubscription, setEnabled, rotateSecret, ssrfPolicy } from "./subscriptions/operations.ts";
export { SubscriptionStore, SUBSCRIPTIONS_BUCKET } from "./subscriptions/store.ts";
export { parseSubscription, generateSecret, DEFAULT_SCHEDULE_MS, type Subscription } from "./subscriptions/model.ts";
export { listAttempts, ATTEMPTS_STREAM, type AttemptRecord } from "./recovery/attempt-log.ts";
export { listDeadLetters, getDeadLetter, redriveDeadLetters, purgeDeadLetters, type DeadLetter, type DeadLetterSummary } from "./recovery/dlq.ts";
export { replayToSubscription, REDRIVE_STREAM } from "./recovery/redrive.ts";
export { signHeaders, verifySignature } from "./delivery/sign.ts";
export { BridgeError, type BridgeErrorCode } from "./errors.ts";
export { registerBridgeCommands } from "./cli/index.ts";
