// Serves the edge Worker in real workerd through Miniflare's API — the fast way (DESIGN.md point
// 10: `wrangler dev` adds proxies that cost ~6x on a trivial route). Bindings and vars come from
// wrangler.toml (read with wrangler's own config reader), then the caller's overrides. The bundle
// is built with esbuild the way wrangler builds it: ESM, workerd conditions, the registry aliased.
// stop() disposes Miniflare, which ends its workerd process.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { build, type BuildOptions } from "esbuild";
import { Miniflare } from "miniflare";
import type { ApiKeyEntry } from "../auth/keys.ts";

import { ROOT, WRANGLER_TOML } from "../node/paths.ts";

export interface EdgeWorkerdOptions {
  /** Default: a free port chosen by workerd. */
  port?: number;
  host?: string;
  natsWebsocketUrls: string[];
  /** Directory holding the built registry's index.js. */
  registryDir: string;
  apiKeys?: ApiKeyEntry[];
  /** Extra vars, over wrangler.toml's [vars] (e.g. PUBLISHER_SHARDS, limits, CORS_ORIGINS). */
  vars?: Record<string, string>;
  /** Durable Object storage; default in memory. */
  persistDir?: string;
  /** Open workerd's V8 inspector (Chrome DevTools protocol) on this port, for profiling. */
  inspectorPort?: number;
  /** Where workerd's stdout/stderr (console.log of the worker) go; default: dropped. */
  onOutput?: (line: string) => void;
}

export interface RunningEdge {
  url: string;
  stop(): Promise<void>;
}

interface WranglerConfig {
  main?: string;
  compatibility_date?: string;
  compatibility_flags?: string[];
  vars: Record<string, unknown>;
  durable_objects: { bindings: Array<{ name: string; class_name: string }> };
}

async function readWranglerConfig(): Promise<WranglerConfig> {
  const { unstable_readConfig } = await import("wrangler");
  return unstable_readConfig({ config: WRANGLER_TOML }) as unknown as WranglerConfig;
}

/**
 * How worker/workerd/entry.ts is bundled with the given registry, the way wrangler bundles it;
 * also what test/edge/workerd-imports.test.ts builds to check what goes into the bundle.
 */
export function workerBuildOptions(registryDir: string): BuildOptions {
  return {
    entryPoints: [join(ROOT, "worker/workerd/entry.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["browser", "module", "main"],
    external: ["cloudflare:*"],
    // The generated validators import ajv's runtime helpers by absolute path
    // (registry/build/codegen.ts), so a registry built outside this checkout bundles too.
    alias: { "jetgate-registry": join(resolve(registryDir), "index.js") },
    logLevel: "silent",
  };
}

/** Bundles worker/workerd/entry.ts with the given registry; returns the bundle's path. */
export async function bundleWorker(registryDir: string, outdir: string, { minify = true } = {}): Promise<string> {
  const outfile = join(outdir, "worker.js");
  await build({ ...workerBuildOptions(registryDir), outfile, minify });
  return outfile;
}

function forward(stream: NodeJS.ReadableStream, sink: ((line: string) => void) | undefined): void {
  let buffer = "";
  stream.on("data", (chunk: Buffer) => {
    if (!sink) return;
    buffer += chunk.toString("utf8");
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      sink(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
  });
}

export async function startEdgeWorkerd(opts: EdgeWorkerdOptions): Promise<RunningEdge> {
  const config = await readWranglerConfig();
  const outdir = mkdtempSync(join(tmpdir(), "jetgate-edge-"));
  const cleanup = () => rmSync(outdir, { recursive: true, force: true });
  let mf: Miniflare | undefined;
  try {
    // Readable function names in profiles when the inspector is open.
    const scriptPath = await bundleWorker(opts.registryDir, outdir, { minify: !opts.inspectorPort });
    const vars: Record<string, string> = {};
    for (const [name, value] of Object.entries(config.vars)) if (typeof value === "string") vars[name] = value;
    Object.assign(vars, opts.vars ?? {});
    vars.NATS_WS_URLS = opts.natsWebsocketUrls.join(",");
    if (opts.apiKeys) vars.API_KEYS = JSON.stringify(opts.apiKeys);
    const durableObjects: Record<string, { className: string; useSQLite: boolean }> = {};
    for (const binding of config.durable_objects.bindings) {
      durableObjects[binding.name] = { className: binding.class_name, useSQLite: true };
    }
    mf = new Miniflare({
      modules: true,
      scriptPath,
      modulesRoot: outdir,
      compatibilityDate: config.compatibility_date,
      compatibilityFlags: config.compatibility_flags ?? [],
      bindings: vars,
      durableObjects,
      durableObjectsPersist: opts.persistDir ?? false,
      host: opts.host ?? "127.0.0.1",
      port: opts.port ?? 0,
      // No internet here: never fetch the `request.cf` data from Cloudflare.
      cf: false,
      ...(opts.inspectorPort ? { inspectorPort: opts.inspectorPort } : {}),
      handleRuntimeStdio(stdout: Readable, stderr: Readable) {
        forward(stdout, opts.onOutput);
        forward(stderr, opts.onOutput);
      },
    });
    const url = await mf.ready;
    const running = mf;
    return {
      url: url.origin,
      async stop() {
        await running.dispose();
        cleanup();
      },
    };
  } catch (err) {
    await mf?.dispose().catch(() => undefined);
    cleanup();
    throw err;
  }
}
