// Loads a built registry (`<dir>/index.js`, from `jetgate registry build`) into a Node process.
// The generated validators are plain ESM that import ajv's runtime helpers by absolute path
// (registry/build/codegen.ts), so Node imports them as they are: no bundler at run time, and
// `jetgate edge` runs with the runtime dependencies alone.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { CompiledRegistry } from "../../registry/compiled.ts";

export async function loadRegistry(dir: string): Promise<CompiledRegistry> {
  const index = join(resolve(dir), "index.js");
  let source: Buffer;
  try {
    source = readFileSync(index);
  } catch (err) {
    throw new Error(`no built registry at ${index}: run jetgate registry build --out ${dir}`, { cause: err });
  }
  // A rebuild rewrites index.js in place; the content hash makes Node load the new one instead of
  // its cached module. Validator files are named by their own content hash already.
  const version = createHash("sha256").update(source).digest("hex").slice(0, 16);
  let mod: CompiledRegistry;
  try {
    mod = (await import(`${pathToFileURL(index).href}?v=${version}`)) as CompiledRegistry;
  } catch (err) {
    // The helpers' absolute paths belong to the install that built the registry.
    if ((err as NodeJS.ErrnoException).code !== "ERR_MODULE_NOT_FOUND") throw err;
    throw new Error(`the registry at ${dir} was built by another install (${(err as Error).message}): run jetgate registry build --out ${dir} again here`, { cause: err });
  }
  return { manifest: mod.manifest, validators: mod.validators, schemas: mod.schemas, commonSchemas: mod.commonSchemas };
}
