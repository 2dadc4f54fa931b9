// The shape of what `jetgate registry build` writes and the edge serves from.
// This file is the contract between the registry (schemas → build) and the worker (build → edge):
// the worker imports only these types, never the registry's internals.

/** One validation failure, as ajv reports it (instancePath is an RFC 6901 JSON pointer). */
export interface SchemaError {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

/** An ajv standalone validator: returns true, or false with `errors` set. */
export interface CompiledValidator {
  (data: unknown): boolean;
  errors?: SchemaError[] | null;
}

export type CompatibilityMode =
  | "BACKWARD"
  | "BACKWARD_TRANSITIVE"
  | "FORWARD"
  | "FORWARD_TRANSITIVE"
  | "FULL"
  | "FULL_TRANSITIVE"
  | "NONE";

export interface ManifestVersion {
  version: number;
  /** The schema's `$id`: the URI a CloudEvent names in `dataschema`. */
  id: string;
  /** sha256 of the canonical schema document, hex; the edge uses it as the ETag. */
  hash: string;
}

export interface ManifestType {
  type: string;
  description: string;
  compatibility: CompatibilityMode;
  owners: string[];
  deprecated: boolean;
  latest: number;
  versions: ManifestVersion[];
}

export interface Manifest {
  /** The commit the registry was built from, or null for an uncommitted working tree. */
  commit: string | null;
  ref: string | null;
  builtAt: string;
  types: Record<string, ManifestType>;
}

/**
 * What the generated module (`<out>/index.js`) exports.
 * Keys of `validators` and `schemas` are `<type>/v<N>`, e.g. `order.created/v2`.
 * `schemas` keep their `$ref`s; `commonSchemas` holds every shared (`_common`) schema those refs
 * reach, keyed by `$id` and without `$schema` (so an ajv of either draft can add it): a consumer
 * that compiles the schemas itself (the bridge shapes pinned versions with runtime ajv) adds both.
 */
export interface CompiledRegistry {
  manifest: Manifest;
  validators: Record<string, CompiledValidator>;
  schemas: Record<string, Record<string, unknown>>;
  commonSchemas: Record<string, Record<string, unknown>>;
}

export function versionKey(type: string, version: number): string {
  return `${type}/v${version}`;
}
