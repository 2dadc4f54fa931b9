// The bridge as it runs: bridge/main.ts bundled by esbuild into one ESM file, started by plain
// `node` (no tsx). `jetgate bridge`, `npm run build:bridge` and the delivery benchmark all build
// and start it through this file, so what is measured is what operators run.
// Why a bundle: under `node --import tsx bridge/main.ts` the loader thread and on-the-fly
// transpiling cost ~35 MB of RSS (measured: idle ~100 MB against ~65 MB for the bundle).
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Where the bundle is written (dist/ is not committed). */
export const BRIDGE_BUNDLE = join(ROOT, "dist/bridge.mjs");

/**
 * Node flags the bridge runs with. V8 sizes its heap for the machine: on this 24 GB box the old
 * generation may reach ~4 GB and grows up to 4× past what survived the last full GC before it
 * collects again. A delivery's garbage is short-lived, but some of it is promoted while requests
 * are in flight, so a busy bridge sat at ~140 MB RSS with ~20 MB live. Declaring an old-space
 * ceiling below ~1 GB makes V8 scale that growth factor down (towards 1.3×); with a 4 MB nursery
 * instead of 16 MB a busy bridge stays near 100 MB at the same CPU (README, "Measured here").
 * 512 MB is a ceiling far above what the bridge keeps live, not a target; raise it for many
 * subscriptions with large events (each durable may hand an instance max_ack_pending at once).
 */
export const BRIDGE_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=4", "--max-old-space-size=512"];

/** Bundles bridge/main.ts with its dependencies into `outfile`; returns the path. */
export async function buildBridgeBundle(outfile: string = BRIDGE_BUNDLE): Promise<string> {
  const { build } = await import("esbuild");
  await build({
    entryPoints: [join(ROOT, "bridge/main.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
    // CommonJS dependencies (undici, pino, prom-client) call require() for Node's own modules.
    banner: { js: `import { createRequire as __bridgeRequire } from "node:module"; const require = __bridgeRequire(import.meta.url);` },
  });
  return outfile;
}

/** The argument list for `node` that starts the bridge from a built bundle. */
export function bridgeNodeArgs(bundle: string = BRIDGE_BUNDLE): string[] {
  return [...BRIDGE_NODE_FLAGS, bundle];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${await buildBridgeBundle()}\n`);
}
