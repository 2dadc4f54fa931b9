// `jetgate registry build`: compiles every version with ajv standalone into ES modules the worker
// bundles, plus the manifest. Each validator is stored under a hash of everything that shapes its
// code (schema, the schemas it reaches through $ref, draft, ajv and generator versions, where the
// helpers it imports are installed), so a rebuild regenerates only what changed.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { canonicalJson, contentHash, sha256 } from "../canonical.ts";
import { createAjv, withoutDialect, type Draft } from "../ajv.ts";
import type { Ajv } from "ajv";
import type { Manifest, ManifestType } from "../compiled.ts";
import { versionKey } from "../compiled.ts";
import { commonId } from "../check/analyze.ts";
import { runCheck } from "../check/check.ts";
import { GENERATED_HEADER, GENERATOR_VERSION, HELPERS_LOCATION, validatorModule } from "./codegen.ts";
import { refClosure } from "../read/deps.ts";
import { CheckFailedError } from "../errors.ts";
import { schemaId, type RegistryDoc } from "../read/layout.ts";
import { INDEX_DTS } from "./dts.ts";

/** Where the worker imports the build from (gitignored). */
export const DEFAULT_OUT = "worker/generated/registry";
const VALIDATORS_DIR = "validators";

export interface BuildProgress {
  done: number;
  total: number;
  key: string;
  reused: boolean;
}

export interface BuildOptions {
  /** Any directory inside the repository. */
  dir: string;
  /** Build from this ref; the working tree when omitted. */
  ref?: string;
  out: string;
  onProgress?: (p: BuildProgress) => void;
}

export interface BuildResult {
  manifest: Manifest;
  outDir: string;
  /** Validators taken from a previous build because their content hash was unchanged. */
  reused: number;
  compiled: number;
}

const AJV_VERSION = (createRequire(import.meta.url)("ajv/package.json") as { version: string }).version;

export async function buildRegistry(opts: BuildOptions): Promise<BuildResult> {
  const { report, doc, analysis, head } = await runCheck({ dir: opts.dir, head: opts.ref });
  if (!report.ok) throw new CheckFailedError(report.errors, { report });

  const outDir = path.resolve(opts.out);
  fs.mkdirSync(path.join(outDir, VALIDATORS_DIR), { recursive: true });
  const codeAjv = lazyAjvs(doc, analysis.byId, analysis.drafts);

  const entries: Array<{ key: string; file: string; schema: unknown }> = [];
  const types: Record<string, ManifestType> = {};
  const keep = new Set<string>();
  const commonIds = new Set([...doc.common.keys()].map((f) => commonId(doc.idBase, f)));
  const common = new Map<string, unknown>();
  const total = report.versions;
  let reused = 0;
  let compiled = 0;
  for (const t of [...doc.types.values()].sort((a, b) => a.type.localeCompare(b.type))) {
    const versions = [...t.versions.keys()].sort((a, b) => a - b);
    const mt: ManifestType = {
      type: t.type,
      description: t.settings.description || String((t.versions.get(versions.at(-1)!)?.json as { description?: unknown })?.description ?? ""),
      compatibility: t.settings.compatibility,
      owners: t.settings.owners,
      deprecated: t.settings.deprecated,
      latest: versions.at(-1) ?? 0,
      versions: [],
    };
    for (const version of versions) {
      const key = versionKey(t.type, version);
      const id = schemaId(doc.idBase, t.type, version);
      const schema = analysis.byId.get(id)!;
      const draft = analysis.drafts.get(key)!;
      const deps = refClosure(id, analysis.byId);
      for (const dep of deps) if (commonIds.has(dep)) common.set(dep, withoutDialect(analysis.byId.get(dep)));
      const cacheKey = sha256(canonicalJson({ g: GENERATOR_VERSION, ajv: AJV_VERSION, helpers: HELPERS_LOCATION, draft, schema, deps: deps.map((d) => [d, analysis.byId.get(d)]) }));
      const file = `${cacheKey.slice(0, 24)}.js`;
      const abs = path.join(outDir, VALIDATORS_DIR, file);
      const hit = fs.existsSync(abs);
      if (hit) reused++;
      else {
        const ajv = codeAjv(draft);
        writeAtomic(abs, validatorModule(ajv, ajv.getSchema(id)!));
        compiled++;
      }
      keep.add(file);
      entries.push({ key, file, schema });
      mt.versions.push({ version, id, hash: contentHash(schema) });
      opts.onProgress?.({ done: entries.length, total, key, reused: hit });
    }
    types[t.type] = mt;
  }
  for (const stale of fs.readdirSync(path.join(outDir, VALIDATORS_DIR))) {
    if (!keep.has(stale)) fs.rmSync(path.join(outDir, VALIDATORS_DIR, stale), { force: true });
  }
  const manifest: Manifest = { commit: head.commit, ref: head.ref, builtAt: new Date().toISOString(), types };
  writeAtomic(path.join(outDir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  writeAtomic(path.join(outDir, "index.d.ts"), INDEX_DTS);
  const commonSchemas = [...common.entries()].sort(([a], [b]) => a.localeCompare(b));
  writeAtomic(path.join(outDir, "index.js"), indexModule(manifest, entries, commonSchemas));
  return { manifest, outDir, reused, compiled };
}

/** Code-generating ajv instances, created only when some validator is not cached. */
function lazyAjvs(doc: RegistryDoc, byId: Map<string, unknown>, drafts: Map<string, Draft>): (draft: Draft) => Ajv {
  const made = new Map<Draft, Ajv>();
  const draftOf = new Map<string, Draft>();
  for (const t of doc.types.values()) for (const v of t.versions.keys()) draftOf.set(schemaId(doc.idBase, t.type, v), drafts.get(versionKey(t.type, v))!);
  const commonIds = new Set([...doc.common.keys()].map((f) => commonId(doc.idBase, f)));
  return (draft) => {
    let ajv = made.get(draft);
    if (ajv) return ajv;
    ajv = createAjv(draft, { code: true });
    for (const [id, json] of byId) {
      if (commonIds.has(id)) {
        const { $schema: _s, ...rest } = json as Record<string, unknown>;
        ajv.addSchema(rest, id, undefined, false);
      } else if (draftOf.get(id) === draft) {
        ajv.addSchema(json as object, id, undefined, false);
      }
    }
    made.set(draft, ajv);
    return ajv;
  };
}

function indexModule(manifest: Manifest, entries: Array<{ key: string; file: string; schema: unknown }>, commonSchemas: Array<[string, unknown]>): string {
  const lines = [GENERATED_HEADER, `// Built from ${manifest.commit ? `commit ${manifest.commit}` : "an uncommitted working tree"}${manifest.ref ? ` (${manifest.ref})` : ""}.`];
  const imported = new Map<string, string>();
  for (const e of entries) {
    if (imported.has(e.file)) continue;
    const name = `v${imported.size}`;
    imported.set(e.file, name);
    lines.push(`import ${name} from "./${VALIDATORS_DIR}/${e.file}";`);
  }
  lines.push(`export const manifest = ${JSON.stringify(manifest, null, 2)};`);
  lines.push("export const schemas = {");
  for (const e of entries) lines.push(`  ${JSON.stringify(e.key)}: ${JSON.stringify(e.schema)},`);
  lines.push("};");
  // The shared schemas the versions' $refs reach, by $id (registry/compiled.ts says who needs them).
  lines.push("export const commonSchemas = {");
  for (const [id, json] of commonSchemas) lines.push(`  ${JSON.stringify(id)}: ${JSON.stringify(json)},`);
  lines.push("};");
  lines.push("export const validators = {");
  for (const e of entries) lines.push(`  ${JSON.stringify(e.key)}: ${imported.get(e.file)},`);
  lines.push("};", "export default { manifest, schemas, commonSchemas, validators };", "");
  return lines.join("\n");
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}
