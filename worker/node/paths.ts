// Where the edge's files live in a checkout; kept apart so importing a path pulls in nothing else.
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const WRANGLER_TOML = join(ROOT, "wrangler.toml");
/** Where `jetgate registry build` writes by default, and what wrangler.toml's [alias] points at. */
export const DEFAULT_REGISTRY_DIR = join(ROOT, "worker/generated/registry");
