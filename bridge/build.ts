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
 * Node flags the bridge runs with. V8's defaults are sized for big heaps: a 16 MB nursery per
 * semi-space, and an old generation allowed to grow to 4× what survived the last full GC before
 * the next one. A delivery's garbage is short-lived but some of it is promoted while requests are
 * in flight, so a busy bridge sat near 150 MB with ~20 MB live. A 4 MB semi-space and a declared
 * old-space ceiling (below ~1 GB V8 scales its growth factor down towards 1.3–2×) keep it near
 * 100 MB at the same CPU (measured: README "Measured here"). The ceiling is a limit, not a
 * target: raise it (`node --max-old-space-size=1024 dist/bridge.mjs`) for many subscriptions with
 * large events, since each durable can hand an instance up to max_ack_pending events at once.
 */
export const BRIDGE_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=4", "--max-old-space-size=256"];

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
