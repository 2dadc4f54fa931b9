// Schema-level checks of one snapshot: dialect, `$id`, meta-schema validity, `$ref` resolution
// (by compiling with ajv), consecutive version numbers, and every example against its version.
// Produces the runtime validators the compatibility data check reuses.
import { MissingRefError } from "ajv";
import { createAjv, describeAjvError, detectDraft, withoutDialect, type AjvOptions, type Draft, type ValidateFunction } from "../ajv.ts";
import type { Ajv } from "ajv";
import { versionKey } from "../compiled.ts";
import { finding, type Finding } from "./findings.ts";
import { COMMON_DIR, schemaId, type JsonDoc, type RegistryDoc, type VersionDoc } from "../read/layout.ts";
import { SCHEMAS_DIR } from "../read/source.ts";

export interface Analysis {
  findings: Finding[];
  /** Runtime validators of the versions that compiled, keyed `<type>/v<N>`. */
  validators: Map<string, ValidateFunction>;
  drafts: Map<string, Draft>;
  /** Every usable document (common and versions) by its expected `$id`. */
  byId: Map<string, unknown>;
  ajv: Record<Draft, Ajv>;
}

export function commonId(idBase: string, file: string): string {
  return `${idBase}${file.slice(SCHEMAS_DIR.length + 1)}`;
}

export function analyze(doc: RegistryDoc, opts: AjvOptions = { allErrors: true }): Analysis {
  const ajv: Record<Draft, Ajv> = { "2020-12": createAjv("2020-12", opts), "draft-07": createAjv("draft-07", opts) };
  const out: Analysis = { findings: [], validators: new Map(), drafts: new Map(), byId: new Map(), ajv };
  const registered: Array<{ id: string; draft: Draft; doc: JsonDoc; type: string | null; version: number | null }> = [];

  for (const c of doc.common.values()) {
    if (c.parseError) continue;
    const id = commonId(doc.idBase, c.file);
    const draft = prepare(out, c, id, null, null);
    if (!draft) continue;
    // Shared definitions serve both dialects: registered in each, without their own `$schema`.
    for (const d of Object.keys(ajv) as Draft[]) ajv[d].addSchema(d === draft ? withId(c.json, id) : withId(withoutDialect(c.json), id), id, undefined, false);
    out.byId.set(id, withId(c.json, id));
    registered.push({ id, draft, doc: c, type: null, version: null });
  }
  for (const t of doc.types.values()) {
    checkVersionNumbers(out, t.type, [...t.versions.keys()], t.settingsFile);
    for (const v of t.versions.values()) {
      if (v.parseError) continue;
      const id = schemaId(doc.idBase, t.type, v.version);
      const draft = prepare(out, v, id, t.type, v.version);
      if (!draft) continue;
      ajv[draft].addSchema(withId(v.json, id), id, undefined, false);
      out.byId.set(id, withId(v.json, id));
      out.drafts.set(versionKey(t.type, v.version), draft);
      registered.push({ id, draft, doc: v, type: t.type, version: v.version });
    }
  }
  for (const r of registered) {
    try {
      const validate = ajv[r.draft].getSchema(r.id)!;
      if (r.type !== null && r.version !== null) out.validators.set(versionKey(r.type, r.version), validate);
    } catch (err) {
      out.findings.push(compileFinding(err, r.doc, r.id, r.type, r.version));
    }
  }
  for (const t of doc.types.values()) checkExamples(out, doc, t.type);
  return out;
}

function withId(schema: unknown, id: string): Record<string, unknown> {
  return typeof schema === "object" && schema !== null ? { ...(schema as object), $id: id } : { $id: id };
}

/** Dialect, `$id` and meta-schema checks; returns the draft when the document may be compiled. */
function prepare(out: Analysis, d: JsonDoc, id: string, type: string | null, version: number | null): Draft | null {
  const at = (rule: string, pointer: string | null, message: string) =>
    out.findings.push(finding({ rule, category: "schema", type, version, file: d.file, pointer, message }));
  const json = d.json;
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    at("schema-invalid", "", "a schema file must hold a JSON object");
    return null;
  }
  const draft = detectDraft(json);
  if (!draft) {
    at("schema-draft", "/$schema", `unsupported $schema ${JSON.stringify((json as { $schema?: unknown }).$schema)}: use https://json-schema.org/draft/2020-12/schema (the default) or http://json-schema.org/draft-07/schema#`);
    return null;
  }
  const declared = (json as { $id?: unknown }).$id;
  if (declared !== id) {
    at("id-mismatch", declared === undefined ? "" : "/$id", declared === undefined ? `$id is missing; this file's $id must be "${id}"` : `$id is "${String(declared)}" but this file's $id must be "${id}"`);
  }
  const ajv = out.ajv[draft];
  if (!ajv.validateSchema(json)) {
    for (const e of ajv.errors ?? []) at("schema-invalid", e.instancePath, `not a valid JSON Schema (${draft}): ${e.instancePath || "the schema"} ${e.message ?? e.keyword}`);
    return null;
  }
  return draft;
}

function compileFinding(err: unknown, d: JsonDoc, id: string, type: string | null, version: number | null): Finding {
  if (err instanceof MissingRefError) {
    return finding({ rule: "ref-unresolved", category: "schema", type, version, file: d.file, pointer: refPointer(d.json, id, err.missingRef), message: `$ref "${err.missingRef}" does not resolve to any schema in the registry (shared definitions live in schemas/${COMMON_DIR}/)` });
  }
  return finding({ rule: "schema-invalid", category: "schema", type, version, file: d.file, pointer: "", message: `ajv cannot compile this schema: ${(err as Error).message}` });
}

/** Pointer to the first `$ref` that resolves to the missing URI, to locate the finding. */
function refPointer(json: unknown, id: string, missing: string): string | null {
  const target = (ref: string): string => {
    try {
      return new URL(ref, id).href.split("#")[0]!;
    } catch {
      return ref;
    }
  };
  const wanted = target(missing);
  let hit: string | null = null;
  const walk = (node: unknown, ptr: string): void => {
    if (hit !== null || typeof node !== "object" || node === null) return;
    for (const [k, v] of Object.entries(node)) {
      const p = `${ptr}/${k.replace(/~/g, "~0").replace(/\//g, "~1")}`;
      if (k === "$ref" && typeof v === "string" && target(v) === wanted) {
        hit = p;
        return;
      }
      walk(v, p);
    }
  };
  walk(json, "");
  return hit;
}

function checkVersionNumbers(out: Analysis, type: string, versions: number[], file: string): void {
  const max = Math.max(0, ...versions);
  if (versions.length === 0) {
    out.findings.push(finding({ rule: "type-empty", category: "schema", type, version: null, file, pointer: null, message: `type "${type}" has no versions: add schemas/${type}/v1.json` }));
    return;
  }
  for (let n = 1; n <= max; n++) {
    if (!versions.includes(n)) {
      out.findings.push(finding({ rule: "version-gap", category: "schema", type, version: n, file: `${SCHEMAS_DIR}/${type}/v${n}.json`, pointer: null, message: `versions must be consecutive from v1: v${n} is missing but v${max} exists` }));
    }
  }
}

function checkExamples(out: Analysis, doc: RegistryDoc, type: string): void {
  const t = doc.types.get(type)!;
  for (const e of t.examples) {
    if (e.parseError) continue;
    if (!t.versions.has(e.version)) {
      out.findings.push(finding({ rule: "example-orphan", category: "example", type, version: e.version, file: e.file, pointer: null, message: `example names v${e.version}, which does not exist` }));
      continue;
    }
    const validate = out.validators.get(versionKey(type, e.version));
    if (!validate) continue;
    const ok = validate(e.json);
    if (e.expectValid && !ok) {
      for (const err of validate.errors ?? []) {
        out.findings.push(finding({ rule: "example-invalid", category: "example", type, version: e.version, file: e.file, pointer: err.instancePath, message: `example does not validate against v${e.version}: ${describeAjvError(err)}` }));
      }
    } else if (!e.expectValid && ok) {
      out.findings.push(finding({ rule: "example-unexpectedly-valid", category: "example", type, version: e.version, file: e.file, pointer: null, message: `example is marked .invalid but v${e.version} accepts it` }));
    }
  }
}

export type { VersionDoc };
