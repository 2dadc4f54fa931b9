// The read-only commands: list the types, show one version, diff two versions.
import { canonicalJson } from "./canonical.ts";
import { compareSchemas, type Incompatibility } from "./check/compat.ts";
import type { CompatibilityMode } from "./compiled.ts";
import { RegistryError } from "./errors.ts";
import { parseLayout, schemaId, type RegistryDoc, type TypeDoc } from "./read/layout.ts";
import { analyze } from "./check/analyze.ts";
import { SchemaResolver } from "./read/resolve.ts";
import { findRepoRoot, readSnapshot, type Snapshot } from "./read/source.ts";

export interface TypeSummary {
  type: string;
  description: string;
  compatibility: CompatibilityMode;
  owners: string[];
  deprecated: boolean;
  versions: number[];
  latest: number;
}

export async function loadRegistry(dir: string, ref?: string): Promise<{ snapshot: Snapshot; doc: RegistryDoc }> {
  const snapshot = await readSnapshot(await findRepoRoot(dir), ref);
  return { snapshot, doc: parseLayout(snapshot) };
}

export async function listTypes(dir: string, ref?: string): Promise<TypeSummary[]> {
  const { doc } = await loadRegistry(dir, ref);
  return [...doc.types.values()].sort((a, b) => a.type.localeCompare(b.type)).map(summarize);
}

function summarize(t: TypeDoc): TypeSummary {
  const versions = [...t.versions.keys()].sort((a, b) => a - b);
  return { type: t.type, description: t.settings.description, compatibility: t.settings.compatibility, owners: t.settings.owners, deprecated: t.settings.deprecated, versions, latest: versions.at(-1) ?? 0 };
}

function getType(doc: RegistryDoc, type: string): TypeDoc {
  const t = doc.types.get(type);
  if (!t) throw new RegistryError("TYPE_NOT_FOUND", `no type "${type}" in the registry`, { exitCode: 1, data: { type } });
  return t;
}

function getVersion(t: TypeDoc, version: number): unknown {
  const v = t.versions.get(version);
  if (!v) throw new RegistryError("VERSION_NOT_FOUND", `type "${t.type}" has no v${version} (versions: ${[...t.versions.keys()].sort((a, b) => a - b).join(", ") || "none"})`, { exitCode: 1, data: { type: t.type, version } });
  return v.json;
}

export interface ShowResult extends TypeSummary {
  version: number;
  id: string;
  file: string;
  schema: unknown;
  examples: Array<{ file: string; valid: boolean; data: unknown }>;
}

export async function showVersion(dir: string, type: string, version?: number, ref?: string): Promise<ShowResult> {
  const { doc } = await loadRegistry(dir, ref);
  const t = getType(doc, type);
  const summary = summarize(t);
  const n = version ?? summary.latest;
  const schema = getVersion(t, n);
  const examples = t.examples.filter((e) => e.version === n).map((e) => ({ file: e.file, valid: e.expectValid, data: e.json }));
  return { ...summary, version: n, id: schemaId(doc.idBase, type, n), file: t.versions.get(n)!.file, schema, examples };
}

export interface DiffChange {
  pointer: string;
  kind: "added" | "removed" | "changed";
  before?: unknown;
  after?: unknown;
}

export interface DiffResult {
  type: string;
  from: number;
  to: number;
  changes: DiffChange[];
  /** Rule findings of `to` against `from`, as readers (BACKWARD) and as writers (FORWARD). */
  backward: Incompatibility[];
  forward: Incompatibility[];
}

export async function diffVersions(dir: string, type: string, from: number, to: number, ref?: string): Promise<DiffResult> {
  const { doc } = await loadRegistry(dir, ref);
  const t = getType(doc, type);
  const a = getVersion(t, from);
  const b = getVersion(t, to);
  const analysis = analyze(doc);
  const resolver = new SchemaResolver(analysis.byId);
  const resolve = async (n: number, raw: unknown) => {
    try {
      return await resolver.dereference(schemaId(doc.idBase, type, n), raw);
    } catch {
      return raw;
    }
  };
  const [ra, rb] = [await resolve(from, a), await resolve(to, b)];
  return { type, from, to, changes: structuralDiff(a, b), backward: compareSchemas(ra, rb, "backward"), forward: compareSchemas(rb, ra, "forward") };
}

function structuralDiff(a: unknown, b: unknown, ptr = "", out: DiffChange[] = []): DiffChange[] {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const p = `${ptr}/${k.replace(/~/g, "~0").replace(/\//g, "~1")}`;
      if (!(k in b)) out.push({ pointer: p, kind: "removed", before: a[k] });
      else if (!(k in a)) out.push({ pointer: p, kind: "added", after: b[k] });
      else structuralDiff(a[k], b[k], p, out);
    }
  } else if (canonicalJson(a) !== canonicalJson(b)) {
    out.push({ pointer: ptr, kind: "changed", before: a, after: b });
  }
  return out;
}
