// The compatibility table (docs/schema-authors.md, "What each mode allows"), row by row, in both directions and
// under every mode, each on a real git repository. A row is a change from `before` to `after`;
// BACKWARD breaks when the new version rejects data the old one accepted, FORWARD the reverse.
// The reversed row (after → before) must swap the two verdicts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkRegistry, RULES } from "../../registry/index.ts";
import { MONEY, Repo, typeFiles } from "./helpers.ts";

type Json = Record<string, unknown>;

interface Row {
  name: string;
  before: Json;
  after: Json;
  /** Rule ids expected when the direction breaks (old → new); undefined = that direction is compatible. */
  backward?: string;
  forward?: string;
  extraFiles?: Record<string, unknown>;
}

const closed = (properties: Json, required: string[] = []): Json => ({ type: "object", properties, required, additionalProperties: false });
const open = (properties: Json, required: string[] = []): Json => ({ type: "object", properties, required });
const S = { type: "string" };

export const ROWS: Row[] = [
  { name: "add an optional property to a closed model", before: closed({ a: S }), after: closed({ a: S, b: S }), forward: "property-added-to-closed-model" },
  { name: "add an optional property to an open model", before: open({ a: S }), after: open({ a: S, b: S }), backward: "property-added-to-open-model" },
  { name: "add an unconstrained property to an open model", before: open({ a: S }), after: open({ a: S, b: {} }) },
  { name: "add a required property", before: closed({ a: S }), after: closed({ a: S, b: S }, ["b"]), backward: "required-added", forward: "property-added-to-closed-model" },
  { name: "make an optional property required", before: closed({ a: S, b: S }), after: closed({ a: S, b: S }, ["b"]), backward: "required-added", forward: undefined },
  { name: "remove a property from a closed model", before: closed({ a: S, b: S }), after: closed({ a: S }), backward: "property-removed-from-closed-model" },
  { name: "remove a property from an open model", before: open({ a: S, b: S }), after: open({ a: S }), forward: "property-removed-from-open-model" },
  { name: "close an open model (additionalProperties: false)", before: open({ a: S }), after: closed({ a: S }), backward: "additional-properties-closed" },
  { name: "narrow a type (number to integer)", before: closed({ n: { type: "number" } }), after: closed({ n: { type: "integer" } }), backward: "type-narrowed" },
  { name: "widen a type (string to string or null)", before: closed({ s: S }), after: closed({ s: { type: ["string", "null"] } }), forward: "type-widened" },
  { name: "change a type (string to integer)", before: closed({ s: S }), after: closed({ s: { type: "integer" } }), backward: "type-narrowed", forward: "type-widened" },
  { name: "remove an enum value", before: closed({ e: { enum: ["a", "b"] } }), after: closed({ e: { enum: ["a"] } }), backward: "enum-value-removed" },
  { name: "add an enum to a free string", before: closed({ e: S }), after: closed({ e: { type: "string", enum: ["a"] } }), backward: "enum-added" },
  { name: "change a const", before: closed({ c: { const: "x" } }), after: closed({ c: { const: "y" } }), backward: "enum-value-removed", forward: "enum-value-added" },
  { name: "lower maxLength", before: closed({ s: { type: "string", maxLength: 20 } }), after: closed({ s: { type: "string", maxLength: 10 } }), backward: "max-length-tightened" },
  { name: "add maxLength", before: closed({ s: S }), after: closed({ s: { type: "string", maxLength: 10 } }), backward: "max-length-added" },
  { name: "raise minLength", before: closed({ s: { type: "string", minLength: 1 } }), after: closed({ s: { type: "string", minLength: 3 } }), backward: "min-length-tightened" },
  { name: "raise minimum", before: closed({ n: { type: "number", minimum: 0 } }), after: closed({ n: { type: "number", minimum: 1 } }), backward: "minimum-tightened" },
  { name: "lower maximum", before: closed({ n: { type: "number", maximum: 10 } }), after: closed({ n: { type: "number", maximum: 5 } }), backward: "maximum-tightened" },
  { name: "make maximum exclusive", before: closed({ n: { type: "number", maximum: 10 } }), after: closed({ n: { type: "number", exclusiveMaximum: 10 } }), backward: "exclusive-maximum-tightened" },
  { name: "add a pattern", before: closed({ s: S }), after: closed({ s: { type: "string", pattern: "^[a-z]+$" } }), backward: "pattern-changed" },
  { name: "add a format", before: closed({ s: S }), after: closed({ s: { type: "string", format: "email" } }), backward: "format-changed" },
  { name: "change multipleOf from 2 to 4", before: closed({ n: { type: "integer", multipleOf: 2 } }), after: closed({ n: { type: "integer", multipleOf: 4 } }), backward: "multiple-of-changed" },
  { name: "raise minItems", before: closed({ l: { type: "array", items: S, minItems: 1 } }), after: closed({ l: { type: "array", items: S, minItems: 2 } }), backward: "min-items-tightened" },
  { name: "add uniqueItems", before: closed({ l: { type: "array", items: S } }), after: closed({ l: { type: "array", items: S, uniqueItems: true } }), backward: "unique-items-added" },
  { name: "narrow the item type", before: closed({ l: { type: "array", items: { type: "number" } } }), after: closed({ l: { type: "array", items: { type: "integer" } } }), backward: "type-narrowed" },
  { name: "add an anyOf alternative", before: closed({ v: { anyOf: [S] } }), after: closed({ v: { anyOf: [S, { type: "integer" }] } }), forward: "alternative-added" },
  { name: "change only descriptions and titles", before: closed({ a: { type: "string", description: "one" } }), after: closed({ a: { type: "string", description: "two", title: "A" } }) },
  {
    name: "tighten a shared definition reached through $ref across files",
    before: closed({ total: { $ref: "../_common/money.json" } }),
    after: closed({ total: { $ref: "../_common/money-v2.json" } }),
    backward: "max-length-added",
    extraFiles: {
      "schemas/_common/money.json": MONEY,
      "schemas/_common/money-v2.json": {
        ...MONEY,
        $id: "https://schemas.jetgate.dev/_common/money-v2.json",
        properties: { ...MONEY.properties, amount: { type: "string", pattern: "^[0-9]+(\\.[0-9]+)?$", maxLength: 12 } },
      },
    },
  },
];

const MODES = ["BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", "NONE"] as const;

/** Rule ids a mode must report for a change whose BACKWARD / FORWARD breaks are given. */
function expected(mode: (typeof MODES)[number], backward?: string, forward?: string): string[] {
  const out: string[] = [];
  if (mode.startsWith("BACKWARD") || mode.startsWith("FULL")) if (backward) out.push(backward);
  if (mode.startsWith("FORWARD") || mode.startsWith("FULL")) if (forward) out.push(forward);
  return out;
}

/**
 * The same rule seen from the other side: a change that breaks FORWARD (say "enum-value-added"),
 * undone, breaks BACKWARD under the dual name ("enum-value-removed").
 */
function dual(rule: string | undefined): string | undefined {
  if (rule === undefined) return undefined;
  for (const row of Object.values(RULES)) {
    if (row.backward.id === rule) return row.forward.id;
    if (row.forward.id === rule) return row.backward.id;
  }
  const limits: Record<string, string> = { tightened: "relaxed", relaxed: "tightened", added: "removed", removed: "added" };
  const m = /^(.*)-(tightened|relaxed|added|removed)$/.exec(rule);
  if (m) return `${m[1]}-${limits[m[2]!]}`;
  throw new Error(`no dual for ${rule}`);
}

const slug = (name: string) => name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");

for (const row of ROWS) {
  test(`compatibility: ${row.name} — backward ${row.backward ?? "ok"}, forward ${row.forward ?? "ok"}, both directions, every mode`, async (t) => {
    const repo = await Repo.create(t);
    const files: Record<string, unknown> = { ...row.extraFiles };
    for (const mode of MODES) {
      Object.assign(files, typeFiles(`fwd-${mode.toLowerCase().replace(/_/g, "-")}`, mode, [row.before, row.after]));
      Object.assign(files, typeFiles(`rev-${mode.toLowerCase().replace(/_/g, "-")}`, mode, [row.after, row.before]));
    }
    repo.write(files);
    await repo.commit(slug(row.name));
    const report = await checkRegistry({ dir: repo.dir, head: "main" });
    for (const mode of MODES) {
      for (const [prefix, b, f] of [["fwd", row.backward, row.forward], ["rev", dual(row.forward), dual(row.backward)]] as const) {
        const type = `${prefix}-${mode.toLowerCase().replace(/_/g, "-")}`;
        const found = report.findings.filter((x) => x.type === type && x.category === "compatibility");
        const rules = [...new Set(found.map((x) => x.rule))].sort();
        assert.deepEqual(rules, expected(mode, b, f).sort(), `${type}: ${found.map((x) => x.message).join(" | ")}`);
        for (const x of found) {
          assert.equal(x.severity, "error");
          assert.equal(x.version, 2);
          assert.equal(x.against, 1);
          assert.match(x.pointer ?? "", /^(\/|$)/);
          assert.match(x.message, /^(BACKWARD|FORWARD): v2 vs v1: at /);
        }
      }
    }
  });
}
