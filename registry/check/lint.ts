// The lint rule set (documented in docs/schema-authors.md, "Lint rules"). Lint findings are about
// style and future evolvability rather than validity. On a version that already exists at the
// base ref they are downgraded to warnings: a released version cannot be changed to satisfy them.
import { EVENT_TYPE_MAX_LENGTH, EVENT_TYPE_PATTERN_SOURCE, isEventType } from "../../broker/index.ts";
import type { CompatibilityMode } from "../compiled.ts";
import { pointerJoin } from "../canonical.ts";
import { finding, type Finding, type Severity } from "./findings.ts";
import type { RegistryDoc, TypeDoc, VersionDoc } from "../read/layout.ts";

export interface LintRule {
  id: string;
  severity: Severity;
  summary: string;
}

/** The rule set, for the docs and `--format json` consumers. */
export const LINT_RULES: LintRule[] = [
  { id: "type-name", severity: "error", summary: `a type name matches ${EVENT_TYPE_PATTERN_SOURCE} and has at most ${EVENT_TYPE_MAX_LENGTH} characters (it becomes the NATS subject events.<type>)` },
  { id: "type-settings-missing", severity: "error", summary: "every type has a type.json with at least its compatibility mode" },
  { id: "open-content-model", severity: "error", summary: "under BACKWARD and BACKWARD_TRANSITIVE every object schema that lists properties is closed (additionalProperties: false or unevaluatedProperties: false), or no optional property can ever be added" },
  { id: "closed-content-model", severity: "warning", summary: "under FORWARD and FORWARD_TRANSITIVE a closed root object means no property can ever be added" },
  { id: "example-missing", severity: "error", summary: "every version has at least one example that validates (examples/v<N>.json or examples/v<N>-<label>.json)" },
  { id: "type-description", severity: "warning", summary: "type.json has a description (served by GET /v1/schemas)" },
  { id: "schema-description", severity: "warning", summary: "each version's root schema has a description" },
  { id: "type-owners", severity: "warning", summary: "type.json names its owners" },
  { id: "deprecated-new-version", severity: "warning", summary: "a deprecated type gets no new versions" },
];

const CLOSING_MODES: CompatibilityMode[] = ["BACKWARD", "BACKWARD_TRANSITIVE"];
const OPENING_MODES: CompatibilityMode[] = ["FORWARD", "FORWARD_TRANSITIVE"];

export function lintRegistry(doc: RegistryDoc, released: (type: string, version: number) => boolean, isNew: (type: string, version: number) => boolean): Finding[] {
  const out: Finding[] = [];
  for (const t of doc.types.values()) lintType(t, out, released, isNew);
  return out;
}

function lintType(t: TypeDoc, out: Finding[], released: (type: string, version: number) => boolean, isNew: (type: string, version: number) => boolean): void {
  const typeFinding = (rule: string, severity: Severity, message: string, pointer: string | null = null) =>
    out.push(finding({ rule, severity, category: "lint", type: t.type, version: null, file: t.settingsFile, pointer, message }));
  if (!isEventType(t.type)) {
    typeFinding("type-name", "error", `type name "${t.type}" must match ${EVENT_TYPE_PATTERN_SOURCE} and be at most ${EVENT_TYPE_MAX_LENGTH} characters (lowercase letters and digits, separated by single . _ or -)`);
  }
  if (!t.hasSettings) typeFinding("type-settings-missing", "error", `schemas/${t.type}/type.json is missing: it sets the compatibility mode (e.g. {"compatibility": "BACKWARD", "owners": ["team@example.com"], "description": "…"})`);
  else {
    if (t.settings.description.trim() === "") typeFinding("type-description", "warning", "type.json has no description", "");
    if (t.settings.owners.length === 0) typeFinding("type-owners", "warning", "type.json names no owners", "");
  }
  for (const v of t.versions.values()) {
    const severity = (s: Severity): Severity => (released(t.type, v.version) ? "warning" : s);
    const at = (rule: string, s: Severity, pointer: string | null, message: string) =>
      out.push(finding({ rule, severity: severity(s), category: "lint", type: t.type, version: v.version, file: v.file, pointer, message }));
    if (!t.examples.some((e) => e.version === v.version && e.expectValid)) {
      at("example-missing", "error", null, `v${v.version} has no example: add schemas/${t.type}/examples/v${v.version}.json with an event payload it accepts`);
    }
    if (t.settings.deprecated && isNew(t.type, v.version)) at("deprecated-new-version", "warning", null, `type "${t.type}" is deprecated, yet v${v.version} is new`);
    if (v.parseError || typeof v.json !== "object" || v.json === null) continue;
    const json = v.json as Record<string, unknown>;
    if (typeof json.description !== "string" || json.description.trim() === "") at("schema-description", "warning", "", `v${v.version} has no description at its root`);
    if (CLOSING_MODES.includes(t.settings.compatibility)) {
      for (const ptr of openObjects(v)) {
        at("open-content-model", "error", ptr, `the object at ${ptr || "the root"} lists properties but does not set additionalProperties: false; under ${t.settings.compatibility} an open model means no optional property can be added later`);
      }
    }
    if (OPENING_MODES.includes(t.settings.compatibility) && json.additionalProperties === false) {
      at("closed-content-model", "warning", "/additionalProperties", `under ${t.settings.compatibility} a closed root object means no property can ever be added`);
    }
  }
}

/** Pointers of object schemas in the file that declare `properties` without closing. */
function openObjects(v: VersionDoc): string[] {
  const found: string[] = [];
  const walk = (node: unknown, ptr: string): void => {
    if (typeof node !== "object" || node === null) return;
    if (Array.isArray(node)) return node.forEach((n, i) => walk(n, pointerJoin(ptr, i)));
    const s = node as Record<string, unknown>;
    if (typeof s.properties === "object" && s.properties !== null && s.additionalProperties !== false && s.unevaluatedProperties !== false) found.push(ptr);
    for (const [k, child] of Object.entries(s)) {
      if (k === "enum" || k === "const" || k === "examples" || k === "default") continue;
      walk(child, pointerJoin(ptr, k));
    }
  };
  walk(v.json, "");
  return found;
}
