// What is bundled for workerd runs without `nodejs_compat`: no file in it may import `node:*` (or
// a bare Node built-in), and none may pull in the Node-only tooling that starts workerd (esbuild,
// miniflare, wrangler). Checked two ways: (a) what esbuild really puts into the Worker bundle, and
// (b) a scan of every file in the folders that are bundled for workerd, so a file that no route
// reaches yet is held to the rule too.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { build, type Metafile } from "esbuild";
import ts from "typescript";
import { workerBuildOptions } from "../../worker/dev/miniflare.ts";
import { buildRegistry } from "../../registry/index.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const NODE_ONLY_PACKAGES = ["esbuild", "miniflare", "wrangler"];
const BUILTINS = new Set(builtinModules);

/** Why an import specifier or input path has no place in workerd, or null when it has. */
function forbidden(spec: string): string | null {
  if (spec.startsWith("node:")) return "a node:* module";
  if (BUILTINS.has(spec.split("/")[0]!)) return "a Node built-in";
  for (const pkg of NODE_ONLY_PACKAGES) {
    if (spec === pkg || spec.startsWith(`${pkg}/`) || spec.includes(`node_modules/${pkg}/`)) return `Node-only tooling (${pkg})`;
  }
  return null;
}

/** The files bundled for workerd, or meant to be: the edge's runtime-neutral folders, its config, the contract, the registry's compiled face. */
function workerdFiles(): string[] {
  const out: string[] = [];
  for (const dir of ["worker/http", "worker/auth", "worker/events", "worker/publish", "worker/sockets", "worker/workerd", "broker"]) {
    for (const name of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      if (name.isFile() && name.name.endsWith(".ts")) out.push(`${dir}/${name.name}`);
    }
  }
  out.push("worker/config.ts", "registry/compiled.ts");
  return out.sort();
}

function importsOf(file: string): string[] {
  return ts.preProcessFile(readFileSync(join(ROOT, file), "utf8"), true, true).importedFiles.map((f) => f.fileName);
}

/** A relative import's file, relative to ROOT ("./x.ts", "./x" and "./x/index.ts" forms). */
function resolveRelative(from: string, spec: string, known: Set<string>): string {
  const base = relative(ROOT, resolve(ROOT, dirname(from), spec)).split(sep).join("/");
  return [base, `${base}.ts`, `${base}/index.ts`].find((candidate) => known.has(candidate)) ?? base;
}

test("no file in the workerd folders imports node:*, esbuild, miniflare or wrangler, nor a file outside those folders", () => {
  const files = workerdFiles();
  const known = new Set(files);
  assert.ok(files.includes("worker/workerd/entry.ts") && files.includes("broker/index.ts"), "the scan found the entry and the contract");
  const problems: string[] = [];
  for (const file of files) {
    for (const spec of importsOf(file)) {
      if (spec.startsWith(".")) {
        // Outside these folders nothing is held to the rule: worker/node, worker/dev and broker/server are Node-only.
        const target = resolveRelative(file, spec, known);
        if (!known.has(target)) problems.push(`${file} imports ${spec} (${target}), which is not among the files bundled for workerd`);
        continue;
      }
      const why = forbidden(spec);
      if (why) problems.push(`${file} imports ${spec}: ${why}`);
    }
  }
  assert.deepEqual(problems, [], problems.join("\n"));
});

test("the real Worker bundle has no node:* module, Node built-in, esbuild, miniflare or wrangler in it, the JetStream client only for the socket feed, and only files the scan holds", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "jetgate-workerd-imports-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await buildRegistry({ dir: join(ROOT, "schemas"), out: join(dir, "registry") });
  const options = workerBuildOptions(join(dir, "registry"));
  let metafile: Metafile;
  try {
    // The options the edge is bundled with; node:* and the tooling marked external only so that an
    // import of one shows up below with its importer named, instead of failing the build.
    const result = await build({
      ...options,
      absWorkingDir: ROOT,
      external: [...(options.external ?? []), "node:*", ...NODE_ONLY_PACKAGES],
      write: false,
      metafile: true,
    });
    metafile = result.metafile;
  } catch (err) {
    // A bare Node built-in cannot be resolved for platform "browser": esbuild names the importer.
    assert.fail(`the Worker does not bundle for workerd: ${err instanceof Error ? err.message : String(err)}`);
  }
  const scanned = new Set(workerdFiles());
  const problems: string[] = [];
  const inputs = Object.entries(metafile.inputs);
  assert.ok(inputs.some(([path]) => path === "worker/workerd/entry.ts"), "the bundle was built from the entry");
  for (const [path, input] of inputs) {
    const why = forbidden(path);
    if (why) problems.push(`${path} is in the bundle: ${why}`);
    for (const imp of input.imports) {
      // The resolved path: a require that a package's "browser" field maps to nothing (tweetnacl's
      // `require("crypto")`, behind a feature check) resolves to "(disabled):crypto" and brings no code.
      const whyImport = forbidden(imp.path);
      if (whyImport) problems.push(`${path} imports ${imp.original ?? imp.path}: ${whyImport}`);
      // Left outside the bundle may be only what workerd provides, and esbuild's own runtime helpers.
      if (imp.external && !imp.path.startsWith("cloudflare:") && imp.path !== "<runtime>") problems.push(`${path} imports ${imp.path}, left outside the bundle`);
    }
    // A source file of this checkout (not a package, not the generated registry, not one of
    // esbuild's namespaces such as "(disabled):") must be one the scan holds.
    const absolute = resolve(ROOT, path);
    const inCheckout = !/^\([a-z-]+\):/.test(path) && absolute.startsWith(ROOT + sep) && !absolute.includes(`${sep}node_modules${sep}`);
    if (inCheckout && !scanned.has(path)) {
      problems.push(`${path} is bundled for workerd but not among the scanned folders`);
    }
  }
  // The edge publishes with nats-core alone. @nats-io/jetstream's client (CommonJS, so a bundler
  // keeps all of it once anything imports it: ~140 KiB) comes in for one reason, the ordered
  // consumers that feed subscribed sockets (worker/sockets/feed.ts); nothing else may pull it in.
  const jetstreamImporters = inputs
    .filter(([path, input]) => !path.includes("node_modules/") && input.imports.some((imp) => imp.path.includes("node_modules/@nats-io/jetstream/")))
    .map(([path]) => path);
  if (jetstreamImporters.join() !== "worker/sockets/feed.ts") {
    problems.push(`@nats-io/jetstream must come into the bundle through worker/sockets/feed.ts alone; imported by: ${jetstreamImporters.join(", ") || "none"}`);
  }
  assert.deepEqual(problems, [], problems.join("\n"));
});
