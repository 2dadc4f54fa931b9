// The generated registry module (`jetgate registry build --out worker/generated/registry`), which
// the bundler resolves through the alias "jetgate-registry" (wrangler.toml [alias], dev/miniflare.ts).
// Declared here so the typed code compiles on a clean checkout where it is not built yet.
declare module "jetgate-registry" {
  export const manifest: import("../../registry/compiled.ts").Manifest;
  export const validators: import("../../registry/compiled.ts").CompiledRegistry["validators"];
  export const schemas: import("../../registry/compiled.ts").CompiledRegistry["schemas"];
  export const commonSchemas: import("../../registry/compiled.ts").CompiledRegistry["commonSchemas"];
}
