// The edge's public face for the rest of the repo (CLI, stack, tests, benchmarks): the app, its
// config, API keys and the edge on Node. It needs only the runtime dependencies, so `jetgate edge`
// runs after `npm ci --omit=dev`. The workerd launcher (Miniflare, esbuild) is the dev face,
// worker/dev/index.ts; workerd/entry.ts is the Worker's own entry (it imports workerd modules).
export { createApp, type AppDeps } from "./http/app.ts";
export { parseConfig, DEFAULTS, NODE_EDGE_DEFAULTS, ConfigError, type EdgeConfig } from "./config.ts";
export { DEV_API_KEY, devApiKeys, hashApiKey, generateApiKey, type ApiKeyEntry } from "./auth/keys.ts";
export { startNodeEdge, type NodeEdgeOptions, type RunningNodeEdge } from "./node/entry.ts";
export { NodePublisher } from "./node/publisher.ts";
export { loadRegistry } from "./node/registry-loader.ts";
export { PROBLEM_KINDS, problemType, type Problem, type ProblemKind } from "./http/problems.ts";
export type { Publisher, PublishAck, PublishRequest, PublishOutcome } from "./publish/publisher.ts";
export { registerEdgeCommands } from "./node/cli.ts";
