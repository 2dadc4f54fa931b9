// The declaration file written beside the generated module. Self-contained on purpose: the build
// output may live anywhere, so it cannot import registry/compiled.ts by a relative path. Keep it
// in step with compiled.ts (test/registry/build.test.ts compares the two).
import { GENERATED_HEADER } from "./codegen.ts";

export const INDEX_DTS = `${GENERATED_HEADER}
export interface SchemaError {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}
export interface CompiledValidator {
  (data: unknown): boolean;
  errors?: SchemaError[] | null;
}
export type CompatibilityMode = "BACKWARD" | "BACKWARD_TRANSITIVE" | "FORWARD" | "FORWARD_TRANSITIVE" | "FULL" | "FULL_TRANSITIVE" | "NONE";
export interface ManifestVersion {
  version: number;
  id: string;
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
  commit: string | null;
  ref: string | null;
  builtAt: string;
  types: Record<string, ManifestType>;
}
export interface CompiledRegistry {
  manifest: Manifest;
  validators: Record<string, CompiledValidator>;
  schemas: Record<string, Record<string, unknown>>;
  commonSchemas: Record<string, Record<string, unknown>>;
}
export declare const manifest: Manifest;
export declare const validators: Record<string, CompiledValidator>;
export declare const schemas: Record<string, Record<string, unknown>>;
export declare const commonSchemas: Record<string, Record<string, unknown>>;
declare const registry: CompiledRegistry;
export default registry;
`;
