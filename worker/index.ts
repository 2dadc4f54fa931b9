// The edge's public face for the rest of the repo (stack, CLI, tests, benchmarks).
// entry-workerd.ts is the Worker's own entry and is not re-exported (it imports workerd modules).
export { createApp, type AppDeps } from "./app.ts";
export { parseConfig, DEFAULTS, ConfigError, type EdgeConfig } from "./config.ts";
export { DEV_API_KEY, devApiKeys, hashApiKey, generateApiKey, type ApiKeyEntry } from "./keys.ts";
export { startEdgeWorkerd, bundleWorker, type EdgeWorkerdOptions, type RunningEdge } from "./launch.ts";
export { startNodeEdge, type NodeEdgeOptions, type RunningNodeEdge } from "./entry-node.ts";
export { NodePublisher } from "./publisher-node.ts";
export { loadRegistry } from "./registry-node.ts";
export { PROBLEM_KINDS, problemType, type Problem, type ProblemKind } from "./problems.ts";
export type { Publisher, PublishAck, PublishRequest, PublishOutcome } from "./publisher.ts";
