// Imports a registry build (`jetgate registry build` output: `<dir>/index.js`, contract
// registry/compiled.ts) into the bridge process, the same build the edge bundles. The generated
// validators import ajv's runtime helpers by absolute path, so Node loads them as they are.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { CompiledRegistry } from "../../registry/compiled.ts";
import { BridgeError } from "../errors.ts";

/** The file whose change means a new build: the build writes it last, atomically. */
export const BUILD_INDEX = "index.js";

export interface LoadedBuild {
  compiled: CompiledRegistry;
  /** sha256 of index.js, hex: two loads of the same build have the same one. */
  hash: string;
}

export async function readBuildHash(dir: string): Promise<string> {
  return createHash("sha256").update(await readFile(join(resolve(dir), BUILD_INDEX))).digest("hex");
}

export async function loadBuild(dir: string): Promise<LoadedBuild> {
  const index = join(resolve(dir), BUILD_INDEX);
  let source: Buffer;
  try {
    source = await readFile(index);
  } catch (err) {
    throw new BridgeError("REGISTRY_UNAVAILABLE", `no built registry at ${index}: run jetgate registry build --out ${dir}`, { dir }, { cause: err });
  }
  const hash = createHash("sha256").update(source).digest("hex");
  // A rebuild rewrites index.js in place; the content hash in the URL makes Node load the new
  // module instead of the cached one (validator files are named by their own hash already).
  let mod: Partial<CompiledRegistry>;
  try {
    mod = (await import(`${pathToFileURL(index).href}?v=${hash.slice(0, 16)}`)) as Partial<CompiledRegistry>;
  } catch (err) {
    throw new BridgeError("REGISTRY_UNAVAILABLE", `the registry build at ${dir} does not load: ${(err as Error).message}; run jetgate registry build --out ${dir} again here`, { dir }, { cause: err });
  }
  if (!mod.manifest || !mod.schemas || !mod.validators) {
    throw new BridgeError("REGISTRY_UNAVAILABLE", `${index} is not a registry build (it lacks manifest, schemas or validators)`, { dir });
  }
  if (!mod.commonSchemas) {
    throw new BridgeError("REGISTRY_UNAVAILABLE", `${index} was built before builds carried commonSchemas: run jetgate registry build --out ${dir} again`, { dir });
  }
  return { compiled: { manifest: mod.manifest, schemas: mod.schemas, validators: mod.validators, commonSchemas: mod.commonSchemas }, hash };
}
