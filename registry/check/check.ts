// `jetgate registry check`: everything a pull request must pass. Reads the head (a ref or the
// working tree) and optionally a base ref, then reports layout and schema errors, lint findings,
// immutability of released versions, and compatibility of each new version under its type's mode,
// by rules (compat.ts on `$ref`-resolved schemas) and by data (examples across versions).
import { canonicalJson } from "../canonical.ts";
import type { CompatibilityMode } from "../compiled.ts";
import { versionKey } from "../compiled.ts";
import { analyze, commonId, type Analysis } from "./analyze.ts";
import { compareSchemas } from "./compat.ts";
import type { Direction } from "./compat-rules.ts";
import { describeAjvError } from "../ajv.ts";
import { refClosure } from "../read/deps.ts";
import { finding, type CheckReport, type Finding } from "./findings.ts";
import { lineOfPointer } from "../read/jsonloc.ts";
import { lintRegistry } from "./lint.ts";
import { parseLayout, schemaId, type RegistryDoc, type TypeDoc } from "../read/layout.ts";
import { SchemaResolver } from "../read/resolve.ts";
import { shapingReport, type ShapingReport } from "./shaping.ts";
import { findRepoRoot, readSnapshot, type Snapshot } from "../read/source.ts";

export interface CheckOptions {
  /** Any directory inside the repository. */
  dir: string;
  /** The ref the pull request targets; without it immutability is not checked and every version counts as new. */
  base?: string;
  /** The ref to check; the working tree when omitted. */
  head?: string;
}

/** What check produced besides the report, for build and the other commands. */
export interface CheckResult {
  report: CheckReport;
  head: Snapshot;
  doc: RegistryDoc;
  analysis: Analysis;
}

export async function checkRegistry(opts: CheckOptions): Promise<CheckReport> {
  return (await runCheck(opts)).report;
}

export async function runCheck(opts: CheckOptions): Promise<CheckResult> {
  const root = await findRepoRoot(opts.dir);
  const cache = {};
  const head = await readSnapshot(root, opts.head, cache);
  const base = opts.base === undefined ? null : await readSnapshot(root, opts.base, cache);
  const doc = parseLayout(head);
  const baseDoc = base ? parseLayout(base) : null;
  const analysis = analyze(doc);

  const released = (type: string, version: number): boolean => baseDoc?.types.get(type)?.versions.has(version) ?? false;
  const isNew = (type: string, version: number): boolean => !released(type, version);

  const findings: Finding[] = [...doc.findings, ...analysis.findings, ...lintRegistry(doc, released, isNew)];
  if (baseDoc) findings.push(...immutability(baseDoc, doc, analysis));

  const resolver = new SchemaResolver(analysis.byId);
  const newVersions: string[] = [];
  const shaping: ShapingReport[] = [];
  for (const t of doc.types.values()) {
    for (const version of [...t.versions.keys()].sort((a, b) => a - b)) {
      if (!isNew(t.type, version)) continue;
      newVersions.push(versionKey(t.type, version));
      findings.push(...(await compatibility(doc, t, version, analysis, resolver)));
      const shaped = await shapingOf(doc, t, version, analysis, resolver);
      if (shaped) shaping.push(shaped);
    }
  }

  for (const f of findings) {
    if (f.line === undefined && f.file) {
      const text = head.files.get(f.file) ?? base?.files.get(f.file);
      const line = text === undefined ? undefined : lineOfPointer(text, f.pointer ?? "");
      if (line !== undefined) f.line = line;
    }
  }
  findings.sort(compareFindings);
  const errors = findings.filter((f) => f.severity === "error").length;
  const report: CheckReport = {
    base: base ? { ref: base.ref, commit: base.commit } : null,
    head: { ref: head.ref, commit: head.commit },
    types: doc.types.size,
    versions: [...doc.types.values()].reduce((n, t) => n + t.versions.size, 0),
    newVersions,
    findings,
    shaping,
    errors,
    warnings: findings.length - errors,
    ok: errors === 0,
  };
  return { report, head, doc, analysis };
}

function compareFindings(a: Finding, b: Finding): number {
  return (a.type ?? "").localeCompare(b.type ?? "") || (a.version ?? 0) - (b.version ?? 0) || (a.file ?? "").localeCompare(b.file ?? "") || (a.line ?? 0) - (b.line ?? 0);
}

/** A version present at the base must be byte-for-byte the same schema at head (reformatting aside), shared definitions included. */
function immutability(baseDoc: RegistryDoc, doc: RegistryDoc, analysis: Analysis): Finding[] {
  const out: Finding[] = [];
  const baseById = new Map<string, unknown>();
  for (const c of baseDoc.common.values()) if (!c.parseError) baseById.set(commonId(baseDoc.idBase, c.file), c.json);
  for (const t of baseDoc.types.values()) for (const v of t.versions.values()) if (!v.parseError) baseById.set(schemaId(baseDoc.idBase, t.type, v.version), v.json);

  for (const bt of baseDoc.types.values()) {
    for (const bv of bt.versions.values()) {
      const hv = doc.types.get(bt.type)?.versions.get(bv.version);
      const base = { type: bt.type, version: bv.version, file: bv.file, category: "immutability" as const };
      if (!hv) {
        out.push(finding({ ...base, rule: "version-removed", pointer: null, message: `v${bv.version} of "${bt.type}" exists at the base ref and was removed; released versions are never removed (deprecate the type in type.json instead)` }));
        continue;
      }
      if (bv.parseError || hv.parseError) {
        if (bv.text !== hv.text) out.push(finding({ ...base, rule: "version-changed", pointer: null, message: `v${bv.version} exists at the base ref and was changed; add v${maxVersion(doc.types.get(bt.type)!) + 1} instead` }));
        continue;
      }
      if (canonicalJson(bv.json) !== canonicalJson(hv.json)) {
        out.push(finding({ ...base, rule: "version-changed", pointer: firstDifference(bv.json, hv.json), message: `v${bv.version} exists at the base ref and was changed; a released version never changes: revert it and add v${maxVersion(doc.types.get(bt.type)!) + 1} instead` }));
        continue;
      }
      const id = schemaId(baseDoc.idBase, bt.type, bv.version);
      for (const dep of refClosure(id, baseById)) {
        const before = baseById.get(dep);
        const after = analysis.byId.get(dep);
        const same = after !== undefined && canonicalJson(withoutId(before)) === canonicalJson(withoutId(after));
        if (!same) {
          out.push(finding({ ...base, rule: "version-changed-through-ref", pointer: null, message: `v${bv.version} exists at the base ref and its meaning changed because ${dep} (reached through $ref) was ${after === undefined ? "removed" : "changed"}; add a new shared definition instead of editing one in use` }));
        }
      }
    }
  }
  return out;
}

function withoutId(json: unknown): unknown {
  if (typeof json !== "object" || json === null) return json;
  const { $id: _id, ...rest } = json as Record<string, unknown>;
  return rest;
}

function maxVersion(t: TypeDoc): number {
  return Math.max(0, ...t.versions.keys());
}

/** Pointer to the first place two JSON values differ. */
function firstDifference(a: unknown, b: unknown, ptr = ""): string {
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return ptr;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    const av = (a as Record<string, unknown>)[k];
    const bv = (b as Record<string, unknown>)[k];
    if (canonicalJson(av) !== canonicalJson(bv)) return firstDifference(av, bv, `${ptr}/${k.replace(/~/g, "~0").replace(/\//g, "~1")}`);
  }
  return ptr;
}

const DIRECTIONS: Record<CompatibilityMode, Direction[]> = {
  BACKWARD: ["backward"],
  BACKWARD_TRANSITIVE: ["backward"],
  FORWARD: ["forward"],
  FORWARD_TRANSITIVE: ["forward"],
  FULL: ["backward", "forward"],
  FULL_TRANSITIVE: ["backward", "forward"],
  NONE: [],
};

/** The versions a new version is compared against under a mode. */
export function comparedVersions(mode: CompatibilityMode, version: number): number[] {
  if (mode === "NONE" || version <= 1) return [];
  if (mode.endsWith("_TRANSITIVE")) return Array.from({ length: version - 1 }, (_, i) => version - 1 - i);
  return [version - 1];
}

async function compatibility(doc: RegistryDoc, t: TypeDoc, version: number, analysis: Analysis, resolver: SchemaResolver): Promise<Finding[]> {
  const out: Finding[] = [];
  const mode = t.settings.compatibility;
  const newDoc = t.versions.get(version)!;
  const newKey = versionKey(t.type, version);
  if (!analysis.validators.has(newKey)) return out; // schema errors already reported
  const newResolved = await resolveOrNull(resolver, schemaId(doc.idBase, t.type, version), analysis);
  for (const prev of comparedVersions(mode, version)) {
    const prevKey = versionKey(t.type, prev);
    if (!analysis.validators.has(prevKey)) continue;
    const prevResolved = await resolveOrNull(resolver, schemaId(doc.idBase, t.type, prev), analysis);
    for (const direction of DIRECTIONS[mode]) {
      const base = { category: "compatibility" as const, type: t.type, version, file: newDoc.file, against: prev, direction };
      const label = `${direction === "backward" ? "BACKWARD" : "FORWARD"}: v${version} vs v${prev}`;
      if (newResolved !== null && prevResolved !== null) {
        const [writer, reader] = direction === "backward" ? [prevResolved, newResolved] : [newResolved, prevResolved];
        for (const inc of compareSchemas(writer, reader, direction)) {
          out.push(finding({ ...base, rule: inc.rule, pointer: inc.pointer, message: `${label}: at ${inc.pointer || "the root"}: ${inc.message}` }));
        }
      }
      // The data check: examples written for the producer side must pass the consumer side.
      const [fromVersion, toKey] = direction === "backward" ? [prev, newKey] : [version, prevKey];
      const validate = analysis.validators.get(toKey)!;
      for (const e of t.examples) {
        if (e.version !== fromVersion || !e.expectValid || e.parseError) continue;
        if (validate(e.json)) continue;
        const why = (validate.errors ?? []).map(describeAjvError).join("; ");
        out.push(finding({ ...base, rule: "example-incompatible", file: e.file, pointer: "", message: `${label}: example ${e.file} (v${fromVersion}) is rejected by v${direction === "backward" ? version : prev}: ${why}` }));
      }
    }
  }
  return out;
}

/** Which earlier versions of its type a new version's events can be shaped into (shaping.ts); null for v1 or a broken schema. */
async function shapingOf(doc: RegistryDoc, t: TypeDoc, version: number, analysis: Analysis, resolver: SchemaResolver): Promise<ShapingReport | null> {
  if (version <= 1 || !analysis.validators.has(versionKey(t.type, version))) return null;
  const resolved = await resolveOrNull(resolver, schemaId(doc.idBase, t.type, version), analysis);
  if (resolved === null) return null;
  const earlier: Array<{ version: number; resolved: unknown }> = [];
  for (const prev of [...t.versions.keys()].filter((v) => v < version)) {
    if (!analysis.validators.has(versionKey(t.type, prev))) continue;
    const prevResolved = await resolveOrNull(resolver, schemaId(doc.idBase, t.type, prev), analysis);
    if (prevResolved !== null) earlier.push({ version: prev, resolved: prevResolved });
  }
  return shapingReport(t.type, version, resolved, earlier);
}

async function resolveOrNull(resolver: SchemaResolver, id: string, analysis: Analysis): Promise<unknown | null> {
  try {
    return await resolver.dereference(id, analysis.byId.get(id));
  } catch {
    return null; // unresolved $ref: reported by analyze() as ref-unresolved
  }
}
