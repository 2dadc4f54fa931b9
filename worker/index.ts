// The edge's public face for the rest of the repo (stack, CLI, tests, benchmarks).
// workerd/entry.ts is the Worker's own entry and is not re-exported (it imports workerd modules).
export { createApp, type AppDeps } from "./http/app.ts";
export { parseConfig, DEFAULTS, ConfigError, type EdgeConfig } from "./config.ts";
export { DEV_API_KEY, devApiKeys, hashApiKey, generateApiKey, type ApiKeyEntry } from "./auth/keys.ts";
export { startEdgeWorkerd, bundleWorker, type EdgeWorkerdOptions, type RunningEdge } from "./dev/miniflare.ts";
export { startNodeEdge, type NodeEdgeOptions, type RunningNodeEdge } from "./node/entry.ts";
export { NodePublisher } from "./node/publisher.ts";
export { loadRegistry } from "./node/registry-loader.ts";
export { PROBLEM_KINDS, problemType, type Problem, type ProblemKind } from "./http/problems.ts";
export type { Publisher, PublishAck, PublishRequest, PublishOutcome } from "./publish/publisher.ts";
