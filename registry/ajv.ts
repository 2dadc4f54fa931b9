// The ajv instances the registry validates and compiles with: draft 2020-12 (the default) and
// draft-07, both with ajv-formats. Strict schema mode is on, so a misspelt keyword or an unknown
// format is a schema error rather than a silently ignored annotation.
import { Ajv, _ } from "ajv";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { AnySchemaObject, ErrorObject, Options, ValidateFunction } from "ajv";

// ajv-formats is CommonJS; under tsx/esbuild the default import is the function itself, under
// Node's own ESM loader it is the module object.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

export type Draft = "2020-12" | "draft-07";

const DRAFT_URIS: Record<Draft, string[]> = {
  "2020-12": ["https://json-schema.org/draft/2020-12/schema", "https://json-schema.org/draft/2020-12/schema#"],
  "draft-07": ["http://json-schema.org/draft-07/schema#", "http://json-schema.org/draft-07/schema"],
};

/** The draft a schema declares through `$schema`; 2020-12 when it declares none; null when unsupported. */
export function detectDraft(schema: unknown): Draft | null {
  if (typeof schema !== "object" || schema === null) return "2020-12";
  const declared = (schema as { $schema?: unknown }).$schema;
  if (declared === undefined) return "2020-12";
  for (const draft of Object.keys(DRAFT_URIS) as Draft[]) if (DRAFT_URIS[draft].includes(String(declared))) return draft;
  return null;
}

export interface AjvOptions {
  /** Keep generated source for ajv standalone (build). */
  code?: boolean;
  /** Collect every error, not only the first (check reports them all). */
  allErrors?: boolean;
  /** Strict schema checks; the JSON-Schema-Test-Suite needs them off. */
  strict?: boolean;
  /** No warnings on the console (ajv logs ignored unknown formats when not strict). */
  quiet?: boolean;
  /**
   * Delete, while validating, the properties a closed object (`additionalProperties: false`) does
   * not define: the bridge projects an event onto a pinned version with it (bridge/registry/).
   */
  removeAdditional?: boolean;
}

export function createAjv(draft: Draft, opts: AjvOptions = {}): Ajv {
  const options: Options = {
    allErrors: opts.allErrors ?? false,
    strict: opts.strict ?? true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    allowUnionTypes: true,
    validateFormats: true,
    ...(opts.removeAdditional ? { removeAdditional: true } : {}),
    ...(opts.quiet ? { logger: false as const } : {}),
    ...(opts.code
      ? {
          code: {
            source: true,
            esm: true,
            // Standalone code must reference format functions rather than inline closures.
            formats: _`require("ajv-formats/dist/formats").fullFormats`,
          },
        }
      : {}),
  };
  const ajv = draft === "2020-12" ? new Ajv2020(options) : new Ajv(options);
  addFormats(ajv as Ajv);
  return ajv as Ajv;
}

/** Schema without `$schema`, so a shared definition can be used from either draft. */
export function withoutDialect(schema: unknown): AnySchemaObject {
  if (typeof schema !== "object" || schema === null) return schema as AnySchemaObject;
  const { $schema: _drop, ...rest } = schema as Record<string, unknown>;
  return rest as AnySchemaObject;
}

export type { ValidateFunction };

/** One line for an ajv validation error, for people. */
export function describeAjvError(e: ErrorObject): string {
  const at = e.instancePath === "" ? "the document" : e.instancePath;
  let extra = "";
  if (e.keyword === "additionalProperties") extra = ` ("${String((e.params as { additionalProperty?: unknown }).additionalProperty)}")`;
  if (e.keyword === "enum") extra = `: ${JSON.stringify((e.params as { allowedValues?: unknown }).allowedValues)}`;
  return `${at} ${e.message ?? e.keyword}${extra}`;
}
