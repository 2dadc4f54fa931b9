// The edge's dev face: the Worker served in real workerd through Miniflare, for the local stack,
// tests and benchmarks. It loads esbuild, miniflare and wrangler (devDependencies), so the Node
// edge's face (worker/index.ts), which production commands load, never imports it.
export { startEdgeWorkerd, bundleWorker, type EdgeWorkerdOptions, type RunningEdge } from "./miniflare.ts";
