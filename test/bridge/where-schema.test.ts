// The schema checker of `where` alone (where-schema.ts), over hand-written versions: which paths
// and comparisons it refuses, and that a path only some versions define is not one of them. The
// admin API's 422 over a real registry build is in where-refused.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkWhereAgainstSchemas, type SchemaVersion } from "../../bridge/subscriptions/where-schema.ts";
import { compileWhere } from "../../bridge/subscriptions/where.ts";

const money = { type: "object", properties: { amount: { type: "number" }, currency: { type: "string" } }, additionalProperties: false };
const V1: SchemaVersion = {
  type: "order.created",
  version: 1,
  schema: {
    type: "object",
    properties: {
      total: { $ref: "#/$defs/money" },
      customer: { type: "object", properties: { id: { type: "string" }, country: { type: "string" } } },
      items: { type: "array", items: { type: "object", properties: { sku: { type: "string" }, qty: { type: "integer" } } } },
      note: { type: ["string", "null"] },
      labels: { type: "object", additionalProperties: { type: "string" } },
    },
    $defs: { money },
  },
};
const V2: SchemaVersion = { type: "order.created", version: 2, schema: { allOf: [V1.schema, { properties: { channel: { enum: ["web", "store"] } } }], $defs: { money } } };

const check = (where: string) => checkWhereAgainstSchemas(where, [V1, V2]);

test("accepted: defined paths compared with their own types, ints against JSON numbers, lists, maps, nullable fields, a path only v2 defines", () => {
  for (const where of [
    "data.total.amount > 100 && data.customer.country == 'DE'",
    "data.total.amount == 150 || data.total.amount in [1, 2]",
    "data.items.exists(i, i.qty >= 2 && i.sku.startsWith('A'))",
    "data.items[0].sku == 'x'",
    "data.labels.team == 'a' && data.note == null",
    "data.channel == 'web'",
    "data.?customer.?country.orValue('') == 'DE'",
    "id != '' && source.startsWith('/') && event.type == 'order.created'",
  ]) {
    assert.deepEqual(check(where), [], where);
  }
});

test("refused: a path no version defines, a string compared with a number, each named with its versions and its JSON pointer into the data; all faults at once", () => {
  assert.deepEqual(check("data.total.nope > 1"), [
    { path: "data.total.nope", pointer: "/total/nope", versions: ["order.created v1", "order.created v2"], message: "data.total.nope: no version of order.created defines it (v1, v2)" },
  ]);
  assert.deepEqual(check("data.customer.id == 5")[0]?.message, "data.customer.id is a string in order.created v1, v2 but is compared with a number (5)");
  assert.deepEqual(check("data.channel == 1").map((e) => e.versions), [["order.created v2"]]);
  assert.deepEqual(check("data.items.exists(i, i.skew == 'a')").map((e) => [e.path, e.pointer]), [["i.skew", undefined]], "a macro's variable has no place in the data");
  assert.deepEqual(check("data.items[0].skew == 'a'").map((e) => e.pointer), ["/items/0/skew"]);
  assert.deepEqual(check("data.customer.id == 5").map((e) => e.pointer), ["/customer/id"]);
  assert.deepEqual(check("data.customer.id == 5 || data.a.b == 1 || !(data.c > 2)").map((e) => e.path).sort(), ["data.a", "data.c", "data.customer.id"]);
  // Arithmetic does not mix int and double in CEL: said at save time, not found out per event.
  assert.match(check("data.total.amount + 1 > 2")[0]?.message ?? "", /no such overload: double \+ int/);
});

test("without versions nothing is checked; what does not compile or is not a boolean is refused by compileWhere", () => {
  assert.deepEqual(checkWhereAgainstSchemas("data.anything == 1", []), []);
  assert.equal(compileWhere("data.total.amount >").ok, false);
  assert.equal(compileWhere("id > 5").ok, false);
  assert.equal(compileWhere("'a' + 'b'").ok, false);
  assert.equal(compileWhere("data.x").ok, true, "dyn may be a boolean at run time (else: an error, no match)");
});

test("schemas shared by $ref, recursive ones and odd property names are checked without blowing up or leaking a finding", () => {
  const node: Record<string, unknown> = { type: "object", properties: { name: { type: "string" }, left: { $ref: "#/$defs/node" }, right: { $ref: "#/$defs/node" } } };
  const tree: SchemaVersion = {
    type: "tree.grown",
    version: 1,
    schema: {
      type: "object",
      properties: { root: { $ref: "#/$defs/node" }, total: { $ref: "#/$defs/money" }, discount: { $ref: "#/$defs/money" }, "first-name": { type: "string" } },
      $defs: { node, money },
    },
  };
  assert.deepEqual(checkWhereAgainstSchemas("data.root.left.right.left.name == 'x' && data['first-name'] == 'y'", [tree]), []);
  // One $ref in two places: a missing path in the first does not hide one in the second.
  assert.deepEqual(checkWhereAgainstSchemas("data.total.nope == 1.0 && data.discount.nope == 1.0", [tree]).map((e) => e.path), ["data.total.nope", "data.discount.nope"]);
});
