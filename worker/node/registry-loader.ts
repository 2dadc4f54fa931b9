// Loads a built registry (`<dir>/index.js`) into a Node process. The generated validators are ESM
// that still `require()`s ajv's runtime helpers (DESIGN.md decision 3), which Node's ESM loader
// refuses, so the module goes through esbuild first — the same treatment the worker bundle gets.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { CompiledRegistry } from "../../registry/compiled.ts";
import { ROOT } from "./paths.ts";

export async function loadRegistry(dir: string): Promise<CompiledRegistry> {
  const { build } = await import("esbuild");
  const result = await build({
    entryPoints: [join(resolve(dir), "index.js")],
    bundle: true,
    format: "esm",
    platform: "node",
    write: false,
    nodePaths: [join(ROOT, "node_modules")],
    logLevel: "silent",
  });
  const tmp = mkdtempSync(join(tmpdir(), "jetgate-registry-node-"));
  const file = join(tmp, "registry.mjs");
  try {
    writeFileSync(file, result.outputFiles[0]!.contents);
    const mod = (await import(pathToFileURL(file).href)) as CompiledRegistry;
    return { manifest: mod.manifest, validators: mod.validators, schemas: mod.schemas };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
