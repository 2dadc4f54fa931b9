// Turns the files of a snapshot into the registry's model. The layout:
//   schemas/registry.json                    optional settings (idBase)
//   schemas/_common/<name>.json              shared definitions, reachable through $ref
//   schemas/<type>/type.json                 compatibility, owners, description, deprecated
//   schemas/<type>/v<N>.json                 version N (1, 2, …)
//   schemas/<type>/examples/v<N>[-label].json          an example that must validate under vN
//   schemas/<type>/examples/v<N>[-label].invalid.json  an example that vN must reject
// Files that fit none of these are reported, not ignored (Markdown files excepted).
import type { CompatibilityMode } from "../compiled.ts";
import { SCHEMAS_DIR, type Snapshot } from "./source.ts";
import { finding, type Finding } from "../check/findings.ts";

export const DEFAULT_ID_BASE = "https://schemas.jetgate.dev/";
const DEFAULT_COMPATIBILITY: CompatibilityMode = "BACKWARD";
const COMPATIBILITY_MODES: readonly CompatibilityMode[] = [
  "BACKWARD",
  "BACKWARD_TRANSITIVE",
  "FORWARD",
  "FORWARD_TRANSITIVE",
  "FULL",
  "FULL_TRANSITIVE",
  "NONE",
];
export const COMMON_DIR = "_common";

export interface JsonDoc {
  file: string;
  text: string;
  /** Parsed JSON, or undefined when `parseError` is set. */
  json: unknown;
  parseError?: string;
}

export interface VersionDoc extends JsonDoc {
  type: string;
  version: number;
}

interface ExampleDoc extends JsonDoc {
  type: string;
  version: number;
  label: string;
  /** False for `.invalid.json` examples, which the version must reject. */
  expectValid: boolean;
}

interface TypeSettings {
  compatibility: CompatibilityMode;
  owners: string[];
  description: string;
  deprecated: boolean;
}

export interface TypeDoc {
  type: string;
  settingsFile: string;
  settings: TypeSettings;
  /** False when type.json is missing or unreadable (defaults are used). */
  hasSettings: boolean;
  versions: Map<number, VersionDoc>;
  examples: ExampleDoc[];
}

export interface RegistryDoc {
  idBase: string;
  common: Map<string, JsonDoc>;
  types: Map<string, TypeDoc>;
  /** Problems found while reading the layout itself (unknown files, unparsable JSON, bad settings). */
  findings: Finding[];
}

const VERSION_FILE = /^v([1-9][0-9]*)\.json$/;
const EXAMPLE_FILE = /^v([1-9][0-9]*)(?:-([A-Za-z0-9._-]+?))?(\.invalid)?\.json$/;
const SETTINGS_KEYS = new Set(["compatibility", "owners", "description", "deprecated"]);

export function parseJson(file: string, text: string): JsonDoc {
  try {
    return { file, text, json: JSON.parse(text) };
  } catch (err) {
    return { file, text, json: undefined, parseError: (err as Error).message };
  }
}

export function schemaId(idBase: string, type: string, version: number): string {
  return `${idBase}${type}/v${version}.json`;
}

export function parseLayout(snapshot: Snapshot): RegistryDoc {
  const doc: RegistryDoc = { idBase: DEFAULT_ID_BASE, common: new Map(), types: new Map(), findings: [] };
  const paths = [...snapshot.files.keys()].sort();
  for (const file of paths) {
    const text = snapshot.files.get(file)!;
    const rel = file.slice(SCHEMAS_DIR.length + 1).split("/");
    if (file.endsWith(".md")) continue;
    if (rel.length === 1 && rel[0] === "registry.json") {
      readRegistrySettings(doc, file, text);
    } else if (rel[0] === COMMON_DIR && rel.length >= 2 && file.endsWith(".json")) {
      doc.common.set(file, parseJson(file, text));
    } else if (rel.length === 2 && rel[1] === "type.json") {
      readTypeSettings(typeDoc(doc, rel[0]!), file, text, doc.findings);
    } else if (rel.length === 2 && VERSION_FILE.test(rel[1]!)) {
      const version = Number(VERSION_FILE.exec(rel[1]!)![1]);
      typeDoc(doc, rel[0]!).versions.set(version, { ...parseJson(file, text), type: rel[0]!, version });
    } else if (rel.length === 3 && rel[1] === "examples" && EXAMPLE_FILE.test(rel[2]!)) {
      const m = EXAMPLE_FILE.exec(rel[2]!)!;
      typeDoc(doc, rel[0]!).examples.push({
        ...parseJson(file, text),
        type: rel[0]!,
        version: Number(m[1]),
        label: m[2] ?? "",
        expectValid: m[3] === undefined,
      });
    } else {
      doc.findings.push(unknownFile(file, rel));
    }
  }
  for (const t of doc.types.values()) collectJsonErrors(t, doc.findings);
  for (const c of doc.common.values()) {
    if (c.parseError) doc.findings.push(finding({ rule: "json-syntax", category: "schema", type: null, version: null, file: c.file, pointer: null, message: `not valid JSON: ${c.parseError}` }));
  }
  return doc;
}

function typeDoc(doc: RegistryDoc, type: string): TypeDoc {
  let t = doc.types.get(type);
  if (!t) {
    t = {
      type,
      settingsFile: `${SCHEMAS_DIR}/${type}/type.json`,
      settings: { compatibility: DEFAULT_COMPATIBILITY, owners: [], description: "", deprecated: false },
      hasSettings: false,
      versions: new Map(),
      examples: [],
    };
    doc.types.set(type, t);
  }
  return t;
}

function unknownFile(file: string, rel: string[]): Finding {
  let hint = "expected schemas/<type>/v<N>.json, schemas/<type>/type.json, schemas/<type>/examples/v<N>[-label].json or schemas/_common/<name>.json";
  if (rel.length === 2 && /^v\d+\.json$/.test(rel[1]!)) hint = "version numbers start at 1 and have no leading zeros";
  else if (rel.length === 3 && rel[1] === "examples") hint = "an example's file name starts with the version it belongs to: v<N>.json, v<N>-<label>.json or v<N>-<label>.invalid.json";
  return finding({ rule: "layout-unknown-file", category: "layout", type: rel.length > 1 ? rel[0]! : null, version: null, file, pointer: null, message: `file does not fit the registry layout: ${hint}` });
}

function readRegistrySettings(doc: RegistryDoc, file: string, text: string): void {
  const parsed = parseJson(file, text);
  const bad = (message: string, pointer: string | null = null): void => {
    doc.findings.push(finding({ rule: "registry-settings", category: "layout", type: null, version: null, file, pointer, message }));
  };
  if (parsed.parseError) return bad(`not valid JSON: ${parsed.parseError}`);
  const json = parsed.json as Record<string, unknown>;
  if (typeof json !== "object" || json === null || Array.isArray(json)) return bad("must be a JSON object");
  for (const key of Object.keys(json)) if (key !== "idBase" && key !== "$schema") bad(`unknown setting "${key}" (known: idBase)`, `/${key}`);
  if (json.idBase !== undefined) {
    if (typeof json.idBase !== "string" || !/^https?:\/\/[^\s]+\/$/.test(json.idBase)) bad("idBase must be an http(s) URI ending in /", "/idBase");
    else doc.idBase = json.idBase;
  }
}

function readTypeSettings(t: TypeDoc, file: string, text: string, findings: Finding[]): void {
  const parsed = parseJson(file, text);
  const bad = (message: string, pointer: string | null = null): void => {
    findings.push(finding({ rule: "type-settings", category: "layout", type: t.type, version: null, file, pointer, message }));
  };
  if (parsed.parseError) return bad(`not valid JSON: ${parsed.parseError}`);
  const json = parsed.json as Record<string, unknown>;
  if (typeof json !== "object" || json === null || Array.isArray(json)) return bad("must be a JSON object");
  t.hasSettings = true;
  for (const key of Object.keys(json)) if (!SETTINGS_KEYS.has(key) && key !== "$schema") bad(`unknown setting "${key}" (known: ${[...SETTINGS_KEYS].join(", ")})`, `/${key}`);
  if (json.compatibility !== undefined) {
    if (typeof json.compatibility === "string" && (COMPATIBILITY_MODES as readonly string[]).includes(json.compatibility)) {
      t.settings.compatibility = json.compatibility as CompatibilityMode;
    } else {
      bad(`compatibility must be one of ${COMPATIBILITY_MODES.join(", ")}`, "/compatibility");
    }
  }
  if (json.owners !== undefined) {
    if (Array.isArray(json.owners) && json.owners.every((o) => typeof o === "string")) t.settings.owners = json.owners as string[];
    else bad("owners must be an array of strings", "/owners");
  }
  if (json.description !== undefined) {
    if (typeof json.description === "string") t.settings.description = json.description;
    else bad("description must be a string", "/description");
  }
  if (json.deprecated !== undefined) {
    if (typeof json.deprecated === "boolean") t.settings.deprecated = json.deprecated;
    else bad("deprecated must be true or false", "/deprecated");
  }
}

function collectJsonErrors(t: TypeDoc, findings: Finding[]): void {
  for (const v of t.versions.values()) {
    if (v.parseError) findings.push(finding({ rule: "json-syntax", category: "schema", type: t.type, version: v.version, file: v.file, pointer: null, message: `not valid JSON: ${v.parseError}` }));
  }
  for (const e of t.examples) {
    if (e.parseError) findings.push(finding({ rule: "json-syntax", category: "example", type: t.type, version: e.version, file: e.file, pointer: null, message: `not valid JSON: ${e.parseError}` }));
  }
}
