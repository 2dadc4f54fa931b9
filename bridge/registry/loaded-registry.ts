// One loaded registry build, as the bridge reads it (issue 14): the types and versions of the
// manifest, each version's schema (as built, and dereferenced), the version a `dataschema` names,
// the edge's own strict validator of a version, and a projecting validator that shapes an event
// for a pinned version. Immutable: a rebuild makes a new LoadedRegistry (registry-watch.ts).
//
// Projection is runtime ajv with `removeAdditional: true`: while validating, it deletes the
// properties that a closed object (`additionalProperties: false`) does not define; open objects
// keep everything, nothing is invented (no `useDefaults`), no type is coerced. ajv's own caveats
// (docs/guide/modifying-data.md, ajv issue #129) carry over, and the README repeats them:
// - under `anyOf`/`oneOf` (and `if`), a branch that is tried and fails has already deleted what it
//   does not define, so a property that only a later branch defines is gone; closed objects
//   inside such branches can project away more than the chosen branch would;
// - `unevaluatedProperties: false` is not a projection keyword: such properties are not removed,
//   and the projected data then fails the strict check (a schema-mismatch dead letter);
// - the root value itself is never replaced (only its properties), which is all projection needs.
// So shaping is always checked afterwards with the strict validator, and a failed check is data.
import type { Ajv } from "ajv";
import { createAjv, detectDraft, type Draft } from "../../registry/ajv.ts";
import { versionKey, type CompiledRegistry, type CompiledValidator, type Manifest, type SchemaError } from "../../registry/compiled.ts";
import { SchemaResolver } from "../../registry/read/resolve.ts";

export interface VersionRef {
  type: string;
  version: number;
}

/** Validation of data against one version; `errors` (all of them, ajv's) when it fails. */
export interface CheckResult {
  valid: boolean;
  errors: SchemaError[];
}

type Mode = "check" | "project";

export class LoadedRegistry {
  readonly manifest: Manifest;
  /** The commit the build was made from (null: an uncommitted working tree). */
  readonly commit: string | null;
  /** sha256 of the build's index.js. */
  readonly hash: string;
  private readonly byId = new Map<string, VersionRef>();
  private readonly ajvs = new Map<string, Ajv>();
  private readonly compiledFns = new Map<string, CompiledValidator>();

  private constructor(
    private readonly compiled: CompiledRegistry,
    hash: string,
    private readonly derefs: Map<string, Record<string, unknown>>,
  ) {
    this.manifest = compiled.manifest;
    this.commit = compiled.manifest.commit;
    this.hash = hash;
    for (const t of Object.values(compiled.manifest.types)) for (const v of t.versions) this.byId.set(v.id, { type: t.type, version: v.version });
  }

  /** Makes the snapshot; dereferencing every version up front (small), so lookups stay synchronous. */
  static async from(compiled: CompiledRegistry, hash: string): Promise<LoadedRegistry> {
    const docs = new Map<string, unknown>(Object.entries(compiled.commonSchemas));
    for (const t of Object.values(compiled.manifest.types)) for (const v of t.versions) docs.set(v.id, compiled.schemas[versionKey(t.type, v.version)]);
    const resolver = new SchemaResolver(docs);
    const derefs = new Map<string, Record<string, unknown>>();
    for (const t of Object.values(compiled.manifest.types)) {
      for (const v of t.versions) {
        const key = versionKey(t.type, v.version);
        derefs.set(key, (await resolver.dereference(v.id, compiled.schemas[key])) as Record<string, unknown>);
      }
    }
    const loaded = new LoadedRegistry(compiled, hash, derefs);
    // Compile everything now: a schema runtime ajv refuses is a broken build, found at load time.
    for (const t of Object.values(compiled.manifest.types)) for (const v of t.versions) {
      loaded.runtime(t.type, v.version, "check");
      loaded.runtime(t.type, v.version, "project");
    }
    return loaded;
  }

  types(): string[] {
    return Object.keys(this.manifest.types).sort();
  }

  /** The versions of `type`, ascending; empty when the registry has no such type. */
  versions(type: string): number[] {
    return this.manifest.types[type]?.versions.map((v) => v.version) ?? [];
  }

  has(type: string, version: number): boolean {
    return this.compiled.schemas[versionKey(type, version)] !== undefined;
  }

  /** The version's `$id` (what a CloudEvent's `dataschema` names). */
  idOf(type: string, version: number): string | undefined {
    return this.manifest.types[type]?.versions.find((v) => v.version === version)?.id;
  }

  /** The version whose `$id` equals `dataschema`. */
  versionOfSchemaId(dataschema: string): VersionRef | undefined {
    return this.byId.get(dataschema);
  }

  /** The schema as built (its `$ref`s in place; resolve them with ajvOf or use dereferenced). */
  schemaOf(type: string, version: number): Record<string, unknown> | undefined {
    return this.compiled.schemas[versionKey(type, version)];
  }

  /** The schema with every `$ref` replaced by its target (recursive ones are left in place). */
  dereferenced(type: string, version: number): Record<string, unknown> | undefined {
    return this.derefs.get(versionKey(type, version));
  }

  /** A runtime ajv (allErrors) holding every schema of the version's draft and the shared ones: `ajv.getSchema(idOf(...))`. */
  ajvOf(type: string, version: number): Ajv | undefined {
    if (!this.has(type, version)) return undefined;
    return this.ajvFor(this.draftOf(type, version), "check");
  }

  /** The edge's own validator of the version (ajv standalone, first error only). */
  strictValidator(type: string, version: number): CompiledValidator | undefined {
    return this.compiled.validators[versionKey(type, version)];
  }

  /** Validates `data` against the version, reporting every error (runtime ajv, allErrors). */
  check(type: string, version: number, data: unknown): CheckResult {
    const validate = this.runtime(type, version, "check");
    const valid = validate(data);
    return { valid, errors: valid ? [] : [...(validate.errors ?? [])] };
  }

  /**
   * Validates `data` against the version and deletes, in place, what its closed objects do not
   * define (see the header for ajv's caveats). Pass a copy; check the result with `check`.
   */
  project(type: string, version: number, data: unknown): void {
    this.runtime(type, version, "project")(data);
  }

  private draftOf(type: string, version: number): Draft {
    return detectDraft(this.schemaOf(type, version)) ?? "2020-12";
  }

  private runtime(type: string, version: number, mode: Mode): CompiledValidator {
    const key = `${mode}:${versionKey(type, version)}`;
    let fn = this.compiledFns.get(key);
    if (!fn) {
      const id = this.idOf(type, version);
      if (!id) throw new Error(`the registry has no ${type} v${version}`);
      const validate = this.ajvFor(this.draftOf(type, version), mode).getSchema(id);
      if (!validate) throw new Error(`the registry build lacks the schema ${id}`);
      fn = validate as CompiledValidator;
      this.compiledFns.set(key, fn);
    }
    return fn;
  }

  private ajvFor(draft: Draft, mode: Mode): Ajv {
    const key = `${mode}:${draft}`;
    let ajv = this.ajvs.get(key);
    if (ajv) return ajv;
    ajv = createAjv(draft, { allErrors: true, removeAdditional: mode === "project", quiet: true });
    for (const [id, schema] of Object.entries(this.compiled.commonSchemas)) ajv.addSchema(schema, id, undefined, false);
    for (const t of Object.values(this.manifest.types)) {
      for (const v of t.versions) {
        const schema = this.compiled.schemas[versionKey(t.type, v.version)]!;
        if ((detectDraft(schema) ?? "2020-12") === draft) ajv.addSchema(schema, v.id, undefined, false);
      }
    }
    this.ajvs.set(key, ajv);
    return ajv;
  }
}
