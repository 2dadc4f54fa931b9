// `registry check` on real git repositories: pull requests as branches, tags, a packed repository,
// immutability, schema errors, lint, examples, transitive modes, and the three output formats.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import git from "isomorphic-git";
import { checkRegistry, formatReport, RegistryError, type CheckReport } from "../../registry/index.ts";
import { MONEY, REPO_ROOT, Repo, typeFiles, version } from "./helpers.ts";

const ORDER_V1 = { type: "object", properties: { id: { type: "string" }, total: { $ref: "../_common/money.json" } }, required: ["id", "total"], additionalProperties: false };
const ORDER_V2 = { ...ORDER_V1, properties: { ...ORDER_V1.properties, note: { type: "string" } } };
const EX = { id: "o-1", total: { amount: "1.00", currency: "EUR" } };

const rules = (r: CheckReport, category?: string) => r.findings.filter((f) => !category || f.category === category).map((f) => f.rule).sort();

async function baseRepo(t: Parameters<typeof Repo.create>[0]): Promise<Repo> {
  const repo = await Repo.create(t);
  repo.write({ "schemas/_common/money.json": MONEY, ...typeFiles("order.created", "BACKWARD", [ORDER_V1], [EX]) });
  await repo.commit("order.created v1");
  return repo;
}

test("the project's own schemas/ pass check", async () => {
  const report = await checkRegistry({ dir: REPO_ROOT });
  assert.deepEqual(report.findings, []);
  assert.ok(report.types >= 1);
});

test("a pull request adding a compatible version passes; the base's versions are not re-checked", async (t) => {
  const repo = await baseRepo(t);
  await repo.branch("feature");
  repo.write({ ...typeFiles("order.created", "BACKWARD", [ORDER_V1, ORDER_V2], [EX, { ...EX, note: "hi" }]) });
  await repo.commit("v2 adds an optional note");
  const report = await checkRegistry({ dir: repo.dir, base: "main", head: "feature" });
  assert.deepEqual(report.findings, []);
  assert.deepEqual(report.newVersions, ["order.created/v2"]);
  assert.equal(report.ok, true);
  assert.match(report.base!.commit!, /^[0-9a-f]{40}$/);
});

test("a pull request with a breaking version reports the rule, the pointer and the line", async (t) => {
  const repo = await baseRepo(t);
  await repo.branch("feature");
  repo.write({ ...typeFiles("order.created", "BACKWARD", [ORDER_V1, { ...ORDER_V2, required: ["id", "total", "note"] }], [EX, { ...EX, note: "x" }]) });
  await repo.commit("v2 requires note");
  const report = await checkRegistry({ dir: repo.dir, base: "main", head: "feature" });
  assert.equal(report.ok, false);
  const f = report.findings.find((x) => x.rule === "required-added")!;
  assert.equal(f.file, "schemas/order.created/v2.json");
  assert.equal(f.pointer, "/required");
  assert.equal(f.against, 1);
  assert.equal(f.direction, "backward");
  assert.ok(f.line! > 1);
  assert.match(f.message, /property "note" became required/);
  // The data check says the same thing with the old example.
  assert.ok(report.findings.some((x) => x.rule === "example-incompatible" && x.file === "schemas/order.created/examples/v1.json"));
});

test("immutability: a released version changed, removed, or changed through a shared $ref target", async (t) => {
  const repo = await baseRepo(t);
  await repo.branch("edit");
  repo.write({ "schemas/order.created/v1.json": version("order.created", 1, { ...ORDER_V1, properties: { ...ORDER_V1.properties, id: { type: "string", maxLength: 5 } } }) });
  await repo.commit("edit v1");
  const edited = await checkRegistry({ dir: repo.dir, base: "main", head: "edit" });
  const changed = edited.findings.find((f) => f.rule === "version-changed")!;
  assert.equal(changed.pointer, "/properties/id/maxLength");
  assert.equal(changed.category, "immutability");

  await repo.checkout("main");
  await repo.branch("drop");
  repo.remove("schemas/order.created");
  await repo.commit("drop the type");
  assert.deepEqual(rules(await checkRegistry({ dir: repo.dir, base: "main", head: "drop" }), "immutability"), ["version-removed"]);

  await repo.checkout("main");
  await repo.branch("common");
  repo.write({ "schemas/_common/money.json": { ...MONEY, properties: { ...MONEY.properties, currency: { type: "string", enum: ["EUR"] } } } });
  await repo.commit("narrow money");
  assert.deepEqual(rules(await checkRegistry({ dir: repo.dir, base: "main", head: "common" }), "immutability"), ["version-changed-through-ref"]);

  await repo.checkout("main");
  await repo.branch("reformat");
  repo.write({ "schemas/order.created/v1.json": JSON.stringify(version("order.created", 1, ORDER_V1)) });
  await repo.commit("reformat v1 on one line");
  assert.deepEqual((await checkRegistry({ dir: repo.dir, base: "main", head: "reformat" })).findings, []);
});

test("refs: tags (lightweight and annotated), short commit ids, the working tree, and an unknown ref", async (t) => {
  const repo = await baseRepo(t);
  await repo.tag("v1.0");
  await repo.tag("release-1", true);
  const head = await git.resolveRef({ fs, dir: repo.dir, ref: "HEAD" });
  repo.write({ ...typeFiles("order.created", "BACKWARD", [ORDER_V1, ORDER_V2], [EX, EX]) });
  await repo.commit("v2");
  for (const base of ["v1.0", "release-1", head.slice(0, 7)]) {
    const report = await checkRegistry({ dir: repo.dir, base });
    assert.equal(report.base!.commit, head, base);
    assert.deepEqual(report.newVersions, ["order.created/v2"], base);
  }
  const worktree = await checkRegistry({ dir: repo.dir });
  assert.equal(worktree.head.ref, null);
  assert.match(worktree.head.commit!, /^[0-9a-f]{40}$/, "clean working tree names HEAD");
  repo.write({ "schemas/order.created/examples/v2-more.json": EX });
  assert.equal((await checkRegistry({ dir: repo.dir })).head.commit, null, "a dirty working tree names no commit");
  await assert.rejects(checkRegistry({ dir: repo.dir, base: "no-such-branch" }), (err: RegistryError) => err.code === "REF_NOT_FOUND" && err.exitCode === 2);
  await assert.rejects(checkRegistry({ dir: path.parse(repo.dir).root }), (err: RegistryError) => err.code === "NOT_A_REPOSITORY");
});

test("a packed repository (isomorphic-git packObjects, loose objects deleted) reads the same", async (t) => {
  const repo = await baseRepo(t);
  await repo.branch("feature");
  repo.write({ ...typeFiles("order.created", "BACKWARD", [ORDER_V1, ORDER_V2], [EX, EX]) });
  await repo.commit("v2");
  const before = await checkRegistry({ dir: repo.dir, base: "main", head: "feature" });
  const objects = path.join(repo.dir, ".git", "objects");
  const oids = fs.readdirSync(objects).filter((d) => /^[0-9a-f]{2}$/.test(d)).flatMap((d) => fs.readdirSync(path.join(objects, d)).map((f) => d + f));
  const { filename } = await git.packObjects({ fs, dir: repo.dir, oids, write: true });
  await git.indexPack({ fs, dir: repo.dir, filepath: `.git/objects/pack/${filename}` });
  for (const d of fs.readdirSync(objects)) if (/^[0-9a-f]{2}$/.test(d)) fs.rmSync(path.join(objects, d), { recursive: true });
  const after = await checkRegistry({ dir: repo.dir, base: "main", head: "feature" });
  assert.deepEqual(after, before);
  assert.deepEqual(after.newVersions, ["order.created/v2"]);
});

test("a repository packed by the git binary (git gc: packfile and packed-refs) reads the same", async (t) => {
  try {
    execFileSync("git", ["--version"]);
  } catch {
    return t.skip("git binary not installed (only the git-binary tests use it)");
  }
  const repo = await baseRepo(t);
  await repo.tag("v1.0");
  repo.write({ ...typeFiles("order.created", "BACKWARD", [ORDER_V1, { ...ORDER_V2, required: ["id", "total", "note"] }], [EX, { ...EX, note: "n" }]) });
  await repo.commit("v2, breaking");
  execFileSync("git", ["gc", "--quiet", "--aggressive"], { cwd: repo.dir });
  assert.ok(fs.existsSync(path.join(repo.dir, ".git", "packed-refs")));
  const report = await checkRegistry({ dir: repo.dir, base: "v1.0", head: "main" });
  assert.ok(rules(report).includes("required-added"));
});

test("a linked worktree (git worktree add: .git is a file) reads its own HEAD, its working tree and the main repository's refs", async (t) => {
  try {
    execFileSync("git", ["--version"]);
  } catch {
    return t.skip("git binary not installed (only the git-binary tests use it)");
  }
  const repo = await baseRepo(t);
  const tree = path.join(repo.dir, "..", `${path.basename(repo.dir)}-worktree`);
  t.after(() => fs.rmSync(tree, { recursive: true, force: true }));
  execFileSync("git", ["worktree", "add", "--quiet", "-b", "feature", tree, "main"], { cwd: repo.dir });
  assert.ok(fs.statSync(path.join(tree, ".git")).isFile());
  const breaking = typeFiles("order.created", "BACKWARD", [ORDER_V1, { ...ORDER_V2, required: ["id", "total", "note"] }], [EX, { ...EX, note: "n" }]);
  for (const [rel, json] of Object.entries(breaking)) {
    fs.mkdirSync(path.dirname(path.join(tree, rel)), { recursive: true });
    fs.writeFileSync(path.join(tree, rel), typeof json === "string" ? json : JSON.stringify(json, null, 2));
  }
  const working = await checkRegistry({ dir: tree, base: "main" });
  assert.ok(rules(working).includes("required-added"), "the worktree's uncommitted v2 against main");
  execFileSync("git", ["add", "-A"], { cwd: tree });
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "v2"], { cwd: tree });
  const committed = await checkRegistry({ dir: tree, base: "main", head: "HEAD" });
  assert.ok(rules(committed).includes("required-added"), "the worktree's HEAD (branch feature) against main");
  assert.deepEqual(committed.newVersions, ["order.created/v2"]);
});

test("schema errors: JSON syntax, invalid JSON Schema, unknown keyword, unresolved $ref, $id mismatch, draft, version gap", async (t) => {
  const repo = await Repo.create(t);
  repo.write({
    ...typeFiles("bad.syntax", "NONE", [], []),
    "schemas/bad.syntax/v1.json": "{ not json",
    ...typeFiles("bad.schema", "NONE", [{ type: "strin" }], [{}]),
    ...typeFiles("bad.keyword", "NONE", [{ type: "object", additionalProprties: false }], [{}]),
    ...typeFiles("bad.ref", "NONE", [{ type: "object", properties: { m: { $ref: "../_common/nope.json" } }, additionalProperties: false }], [{}]),
    ...typeFiles("bad.id", "NONE", [{ type: "object" }], [{}]),
    "schemas/bad.id/v1.json": { $id: "https://schemas.jetgate.dev/other/v1.json", description: "x", type: "object" },
    ...typeFiles("bad.draft", "NONE", [{ type: "object" }], [{}]),
    "schemas/bad.draft/v1.json": { $schema: "http://json-schema.org/draft-04/schema#", $id: "https://schemas.jetgate.dev/bad.draft/v1.json", type: "object" },
    ...typeFiles("gap", "NONE", [{ type: "object" }], [{}]),
    "schemas/gap/v3.json": version("gap", 3, { type: "object" }),
    "schemas/gap/examples/v3.json": {},
    ...typeFiles("draft7.ok", "NONE", [{ type: "object" }], [{}]),
    "schemas/draft7.ok/v1.json": { $schema: "http://json-schema.org/draft-07/schema#", $id: "https://schemas.jetgate.dev/draft7.ok/v1.json", description: "x", type: "object", properties: { m: { $ref: "../_common/money.json" } } },
    "schemas/_common/money.json": MONEY,
    "schemas/stray.txt": "hello",
  });
  await repo.commit("broken things");
  const report = await checkRegistry({ dir: repo.dir, head: "main" });
  const byType = (type: string | null) => report.findings.filter((f) => f.type === type && f.category !== "lint").map((f) => f.rule);
  assert.deepEqual(byType("bad.syntax"), ["json-syntax"]);
  assert.ok(byType("bad.schema").includes("schema-invalid"));
  const unknownKeyword = report.findings.find((f) => f.type === "bad.keyword" && f.rule === "schema-invalid")!;
  assert.match(unknownKeyword.message, /additionalProprties/);
  const ref = report.findings.find((f) => f.rule === "ref-unresolved")!;
  assert.equal(ref.pointer, "/properties/m/$ref");
  assert.equal(ref.line, 8);
  assert.deepEqual(byType("bad.id"), ["id-mismatch"]);
  assert.deepEqual(byType("bad.draft"), ["schema-draft"]);
  assert.deepEqual(byType("gap"), ["version-gap"]);
  assert.deepEqual(byType("draft7.ok"), []);
  assert.deepEqual(byType(null), ["layout-unknown-file"]);
  assert.equal(report.ok, false);
});

test("lint: type name grammar, open content model under BACKWARD, descriptions, owners, missing examples", async (t) => {
  const repo = await Repo.create(t);
  repo.write({
    ...typeFiles("Bad_Name", "NONE", [{ type: "object" }], [{}]),
    ...typeFiles("open.model", "BACKWARD", [{ type: "object", properties: { a: { type: "object", properties: { b: { type: "string" } }, additionalProperties: false } } }], [{}]),
    ...typeFiles("no.example", "NONE", [{ type: "object" }]),
    "schemas/no.docs/type.json": { compatibility: "NONE" },
    "schemas/no.docs/v1.json": { $id: "https://schemas.jetgate.dev/no.docs/v1.json", type: "object" },
    "schemas/no.docs/examples/v1.json": {},
    "schemas/no.settings/v1.json": version("no.settings", 1, { type: "object" }),
    "schemas/no.settings/examples/v1-first.json": {},
    [`schemas/${"a".repeat(129)}/type.json`]: { compatibility: "NONE", description: "d", owners: ["o"] },
  });
  await repo.commit("lint");
  const report = await checkRegistry({ dir: repo.dir, head: "main" });
  const lint = (type: string) => report.findings.filter((f) => f.type === type && f.category === "lint").map((f) => `${f.rule}:${f.severity}`).sort();
  assert.deepEqual(lint("Bad_Name"), ["type-name:error"]);
  assert.deepEqual(lint("a".repeat(129)), ["type-name:error"]);
  assert.deepEqual(lint("open.model"), ["open-content-model:error"]);
  assert.equal(report.findings.find((f) => f.rule === "open-content-model")!.pointer, "");
  assert.deepEqual(lint("no.example"), ["example-missing:error"]);
  assert.deepEqual(lint("no.docs"), ["schema-description:warning", "type-description:warning", "type-owners:warning"]);
  assert.deepEqual(lint("no.settings"), ["type-settings-missing:error"]);
});

test("examples: each validates against its version; .invalid examples must be rejected; orphans are reported", async (t) => {
  const repo = await Repo.create(t);
  repo.write({
    ...typeFiles("ex", "NONE", [{ type: "object", properties: { n: { type: "integer" } }, required: ["n"], additionalProperties: false }], [{ n: "one" }]),
    "schemas/ex/examples/v1-good.json": { n: 1 },
    "schemas/ex/examples/v1-neg.invalid.json": { n: 2 },
    "schemas/ex/examples/v2.json": { n: 3 },
  });
  await repo.commit("examples");
  const report = await checkRegistry({ dir: repo.dir, head: "main" });
  assert.deepEqual(rules(report, "example"), ["example-invalid", "example-orphan", "example-unexpectedly-valid"]);
  const invalid = report.findings.find((f) => f.rule === "example-invalid")!;
  assert.equal(invalid.file, "schemas/ex/examples/v1.json");
  assert.equal(invalid.pointer, "/n");
  assert.match(invalid.message, /\/n must be integer/);
});

test("BACKWARD_TRANSITIVE compares a new version with every earlier one, BACKWARD only with the last", async (t) => {
  const repo = await Repo.create(t);
  const v1 = { type: "object", properties: { a: { type: "string", maxLength: 5 } }, additionalProperties: false };
  const v2 = { type: "object", properties: { a: { type: "string", maxLength: 1 } }, additionalProperties: false }; // broke v1 while the mode was NONE
  const v3 = { type: "object", properties: { a: { type: "string", maxLength: 2 } }, additionalProperties: false };
  repo.write(typeFiles("tr", "NONE", [v1, v2], [{ a: "abcde" }, { a: "x" }]));
  await repo.commit("v1, v2 under NONE");
  for (const [mode, expected] of [["BACKWARD", []], ["BACKWARD_TRANSITIVE", ["example-incompatible", "max-length-tightened"]]] as const) {
    await repo.checkout("main");
    await repo.branch(mode.toLowerCase());
    repo.write(typeFiles("tr", mode, [v1, v2, v3], [{ a: "abcde" }, { a: "x" }, { a: "xy" }]));
    await repo.commit(`v3 under ${mode}`);
    const report = await checkRegistry({ dir: repo.dir, base: "main", head: mode.toLowerCase() });
    assert.deepEqual(rules(report, "compatibility"), [...expected], mode);
    for (const f of report.findings) assert.equal(f.against, 1);
  }
});

test("output: readable text, JSON, and GitHub workflow annotations with file and line", async (t) => {
  const repo = await baseRepo(t);
  repo.write({ ...typeFiles("order.created", "BACKWARD", [ORDER_V1, { ...ORDER_V1, properties: { ...ORDER_V1.properties, id: { type: "integer" } } }], [EX, { ...EX, id: 1 }]) });
  const report = await checkRegistry({ dir: repo.dir, base: "main" });
  const text = formatReport(report, "text");
  assert.match(text, /\n {2}v2 error {3}type-narrowed {2}schemas\/order\.created\/v2\.json:\d+ {2}\/properties\/id\/type/);
  assert.match(text, /type narrowed from string to integer/);
  assert.match(text, /FAILED: 1 type, 2 versions \(1 new\): \d+ errors?/);
  assert.deepEqual(JSON.parse(formatReport(report, "json")), JSON.parse(JSON.stringify(report)));
  const gh = formatReport(report, "github").split("\n");
  const line = gh.find((l) => l.includes("type-narrowed"))!;
  assert.match(line, /^::error file=schemas\/order\.created\/v2\.json,line=\d+,title=type-narrowed \(order\.created v2\)::BACKWARD%3A|^::error file=schemas\/order\.created\/v2\.json,line=\d+,title=type-narrowed \(order\.created v2\)::BACKWARD: v2 vs v1/);
});

test("the CLI exits 0 when clean, 1 on findings, 2 on usage or repository errors", async (t) => {
  const repo = await baseRepo(t);
  const run = (...args: string[]) => {
    try {
      execFileSync(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "cli/main.ts"), "registry", ...args, "--dir", repo.dir], { cwd: REPO_ROOT, stdio: "pipe" });
      return 0;
    } catch (err) {
      return (err as { status: number }).status;
    }
  };
  assert.equal(run("check", "--format", "github"), 0);
  repo.write({ "schemas/order.created/v1.json": "{" });
  assert.equal(run("check"), 1);
  assert.equal(run("check", "--base", "no-such-ref"), 2);
  assert.equal(run("check", "--format", "xml"), 2);
});
