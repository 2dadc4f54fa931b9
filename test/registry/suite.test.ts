// The generated validators must give the same verdict as runtime ajv on the official
// JSON-Schema-Test-Suite, from the `json-schema-test-suite` npm package. That package holds only
// drafts 3 and 4, so its draft4 cases run through the registry's draft-07 and 2020-12 ajv (the
// keywords are largely shared; where draft-04 semantics differ, runtime ajv "deviates" from the
// suite's expectation, and that list is pinned in fixtures/). What this test guards is that the
// generated code and runtime ajv agree on every case. A copy of the suite's 2020-12 and draft-07
// folders is not committed: only what npm serves may enter this repository.
// Skipped, and listed: the optional/ folder, refRemote.json and any case whose schema needs the
// suite's remote documents (http://localhost:1234/…), which would need an HTTP server or preloading.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { createAjv, type Draft } from "../../registry/ajv.ts";
import { validatorModule } from "../../registry/build/codegen.ts";
import { repoTempDir } from "./helpers.ts";

const SUITE = path.join(import.meta.dirname, "../../node_modules/json-schema-test-suite/tests/draft4");
const REMOTE = "http://localhost:1234";
const SKIPPED_FILES = ["refRemote.json"];

interface SuiteCase {
  description: string;
  schema: unknown;
  tests: Array<{ description: string; data: unknown; valid: boolean }>;
}

/**
 * Where runtime ajv 8.20, configured as the registry configures it, disagrees with the suite:
 * formats are asserted (ajv-formats) where 2020-12 makes them annotations by default; ajv's
 * partial $dynamicRef and some unevaluated* corner cases; property names like __proto__; draft-07
 * $ref siblings. The generated code must match runtime ajv there too. Listed (fixtures/) so a
 * change in ajv shows up as a test failure rather than passing silently.
 */
const KNOWN = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, "fixtures", "ajv-suite-deviations.json"), "utf8")) as Record<
  string,
  { compileFailures: string[]; deviations: string[] }
>;

/** true, false, or the error a validator threw (e.g. unbounded recursion): both sides must match. */
function verdict(validate: (d: unknown) => boolean, data: unknown): string {
  try {
    return String(validate(data));
  } catch (err) {
    return `throws ${(err as Error).name}`;
  }
}

for (const [draft, folder] of [["2020-12", "draft4-as-2020-12"], ["draft-07", "draft4-as-draft-07"]] as Array<[Draft, string]>) {
  test(`generated validators agree with runtime ajv on JSON-Schema-Test-Suite draft4 cases (${draft})`, async (t) => {
    const dir = repoTempDir(t, `suite-${folder}`);
    const files = fs.readdirSync(SUITE).filter((f) => f.endsWith(".json")).sort();
    const skipped: string[] = SKIPPED_FILES.filter((f) => files.includes(f)).map((f) => `${folder}/${f} (whole file: remote refs)`);
    const compileFailures: string[] = [];
    const cases: Array<{ name: string; suite: SuiteCase; runtime: (d: unknown) => boolean; module: string }> = [];
    for (const file of files) {
      if (SKIPPED_FILES.includes(file)) continue;
      const groups = JSON.parse(fs.readFileSync(path.join(SUITE, file), "utf8")) as SuiteCase[];
      groups.forEach((suite, i) => {
        const name = `${folder}/${file} #${i} ${suite.description}`;
        if (JSON.stringify(suite.schema).includes(REMOTE)) {
          skipped.push(`${name} (remote ref)`);
          return;
        }
        const ajv = createAjv(draft, { code: true, strict: false, quiet: true });
        let validate;
        try {
          validate = ajv.compile(suite.schema as object);
        } catch (err) {
          compileFailures.push(name);
          t.diagnostic(`runtime ajv cannot compile ${name}: ${(err as Error).message}`);
          return;
        }
        const module = path.join(dir, `${file.replace(/\.json$/, "")}-${i}.js`);
        fs.writeFileSync(module, validatorModule(ajv, validate));
        cases.push({ name, suite, runtime: validate, module });
      });
    }
    let checked = 0;
    const disagreements: string[] = [];
    const deviations: string[] = [];
    for (const c of cases) {
      const generated = (await import(pathToFileURL(c.module).href)).default as (d: unknown) => boolean;
      for (const tc of c.suite.tests) {
        const runtimeVerdict = verdict(c.runtime, tc.data);
        const generatedVerdict = verdict(generated, tc.data);
        checked++;
        if (runtimeVerdict !== generatedVerdict) disagreements.push(`${c.name} / ${tc.description}`);
        if (runtimeVerdict !== String(tc.valid)) deviations.push(`${c.name} / ${tc.description}`);
      }
    }
    t.diagnostic(`${folder}: ${cases.length} schemas, ${checked} tests checked; skipped: ${skipped.join("; ")}`);
    assert.deepEqual(disagreements, [], "generated code and runtime ajv must agree");
    // JETGATE_PIN_SUITE=1 rewrites the pinned list after an ajv upgrade (review the diff).
    if (process.env.JETGATE_PIN_SUITE) {
      const pinned = path.join(import.meta.dirname, "fixtures", "ajv-suite-deviations.json");
      const all = JSON.parse(fs.readFileSync(pinned, "utf8")) as typeof KNOWN;
      all[folder] = { compileFailures, deviations };
      fs.writeFileSync(pinned, JSON.stringify(all, null, 2) + "\n");
      return;
    }
    assert.deepEqual(compileFailures, KNOWN[folder]?.compileFailures, "schemas runtime ajv cannot compile (neither side is generated)");
    assert.deepEqual(deviations, KNOWN[folder]?.deviations, "runtime ajv's disagreements with the suite");
    assert.ok(checked > 200, `only ${checked} cases checked`);
  });
}
