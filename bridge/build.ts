// The bridge as it runs: bridge/main.ts bundled by esbuild into one ESM file, started by plain
// `node` (no tsx). `jetgate bridge`, `npm run build:bridge` and the delivery benchmark all build
// and start it through this file, so what is measured is what operators run. esbuild is a
// devDependency, loaded only when a bundle is built (bridgeProcessArgs says what runs without it).
// Why a bundle: under `node --import tsx bridge/main.ts` the loader thread and on-the-fly
// transpiling cost ~35 MB of RSS (measured: idle ~100 MB against ~65 MB for the bundle).
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The bridge's entry, bundled or run as is. */
const BRIDGE_SOURCE = join(ROOT, "bridge/main.ts");

/** Where the bundle is written (dist/ is not committed). */
export const BRIDGE_BUNDLE = join(ROOT, "dist/bridge.mjs");

/**
 * Node flags the bridge runs with. V8 sizes its heap for the machine: on this 24 GB box the old
 * generation may reach ~4 GB and grows up to 4× past what survived the last full GC before it
 * collects again. A delivery's garbage is short-lived, but some of it is promoted while requests
 * are in flight, so a busy bridge sat at ~140 MB RSS with ~20 MB live. Declaring an old-space
 * ceiling below ~1 GB makes V8 scale that growth factor down (towards 1.3×); with a 4 MB nursery
 * instead of 16 MB a busy bridge stays near 100 MB at the same CPU (docs/figures.md, "The bridge: delivery").
 * 512 MB is a ceiling far above what the bridge keeps live, not a target; raise it for many
 * subscriptions with large events (each durable may hand an instance max_ack_pending at once).
 */
export const BRIDGE_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=4", "--max-old-space-size=512"];

/** Bundles bridge/main.ts with its dependencies into `outfile`; returns the path. */
export async function buildBridgeBundle(outfile: string = BRIDGE_BUNDLE): Promise<string> {
  const { build } = await import("esbuild");
  await build({
    entryPoints: [BRIDGE_SOURCE],
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

/**
 * How `jetgate bridge` starts the bridge. With esbuild installed (a checkout with its
 * devDependencies) it runs what operators run in production, the bundle, rebuilt at every start
 * so it never lags the code. After `npm ci --omit=dev` there is no esbuild: bridge/main.ts then
 * runs through tsx, the CLI's own loader (~35 MB more RSS, see above). A bundle left in dist/ is
 * not used then, since nothing could tell whether it matches the checkout.
 */
export async function bridgeProcessArgs(): Promise<{ args: string[]; note?: string }> {
  let esbuild: typeof import("esbuild");
  try {
    esbuild = await import("esbuild");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ERR_MODULE_NOT_FOUND") throw err;
    return {
      args: [...BRIDGE_NODE_FLAGS, "--import", import.meta.resolve("tsx"), BRIDGE_SOURCE],
      note: "esbuild is not installed (npm ci --omit=dev), so bridge/main.ts runs through tsx; for the bundle, build dist/bridge.mjs where devDependencies are installed (npm run build:bridge) and run it with node",
    };
  }
  const bundle = await buildBridgeBundle();
  // Nothing else is built in this process: let esbuild's service process go instead of idling beside the bridge.
  await esbuild.stop();
  return { args: bridgeNodeArgs(bundle) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${await buildBridgeBundle()}\n`);
}
