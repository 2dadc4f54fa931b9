// The edge's read-only view of the built registry (registry/compiled.ts is the contract): which
// types exist, which version an event is checked against, and the check itself. Validation
// failures come back as data; only unknown types and versions are errors.
import { versionKey, type CompiledRegistry, type CompiledValidator, type ManifestType } from "../../registry/compiled.ts";
import { EdgeError, type ProblemSchemaError } from "../http/problems.ts";

export interface ResolvedSchema {
  type: ManifestType;
  version: number;
  /** The schema's `$id`, also what a CloudEvent names in `dataschema`. */
  id: string;
  validate: CompiledValidator;
}

export type ValidationResult = { valid: true } | { valid: false; errors: ProblemSchemaError[] };

/** How many schema errors one answer lists; the validator may find more. */
const MAX_REPORTED_ERRORS = 20;

export class RegistryView {
  constructor(readonly compiled: CompiledRegistry) {}

  typeEntry(type: string): ManifestType | undefined {
    return Object.hasOwn(this.compiled.manifest.types, type) ? this.compiled.manifest.types[type] : undefined;
  }

  /** The latest version of `type`, or the one whose `$id` is `dataschema`. */
  resolve(type: string, dataschema?: string): ResolvedSchema {
    const entry = this.typeEntry(type);
    if (!entry) throw new EdgeError("UNKNOWN_TYPE", `the event type "${type}" is not registered`, { eventType: type });
    const version =
      dataschema === undefined
        ? entry.versions.find((v) => v.version === entry.latest)
        : entry.versions.find((v) => v.id === dataschema);
    if (!version) {
      throw new EdgeError(
        "UNKNOWN_SCHEMA_VERSION",
        `"${dataschema ?? `v${entry.latest}`}" is not a registered schema of "${type}"; known: ${entry.versions.map((v) => v.id).join(", ")}`,
        { eventType: type, dataschema },
      );
    }
    const validate = this.compiled.validators[versionKey(type, version.version)];
    if (!validate) throw new Error(`the built registry has no validator for ${versionKey(type, version.version)}`);
    return { type: entry, version: version.version, id: version.id, validate };
  }

  check(schema: ResolvedSchema, data: unknown): ValidationResult {
    if (schema.validate(data)) return { valid: true };
    const errors = (schema.validate.errors ?? []).slice(0, MAX_REPORTED_ERRORS).map((e) => ({
      instancePath: e.instancePath,
      keyword: e.keyword,
      message: e.message ?? e.keyword,
    }));
    return { valid: false, errors };
  }
}
