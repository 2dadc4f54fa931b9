// Registry benchmarks: validation throughput of the generated (ajv standalone) validators beside
// runtime ajv and @cfworker/json-schema on the sample schema (goal: ≥ 5× @cfworker), and check +
// build time for a generated registry of 500 types, with the rebuild that changes nothing.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import git from "isomorphic-git";
import { Validator } from "@cfworker/json-schema";
import type { BenchContext, BenchRow } from "./lib.ts";
import { ratio } from "./lib.ts";
import { buildRegistry, checkRegistry, type CompiledRegistry } from "../registry/index.ts";
import { createAjv } from "../registry/ajv.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const TYPES = 500;
const SAMPLE = { orderId: "o-1001", customer: { id: "c-1", email: "a@example.com" }, total: { amount: "19.99", currency: "EUR" }, channel: "web" };

/** Valid documents per second for `validate` over `seconds`. */
function throughput(validate: (d: unknown) => boolean, seconds: number): number {
  for (let i = 0; i < 20_000; i++) validate(SAMPLE); // warm up the JIT
  let n = 0;
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) if (!validate(SAMPLE)) throw new Error("sample event rejected");
    n += 1000;
  }
  return n / ((performance.now() - started) / 1000);
}

function schemaFile(rel: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(ROOT, "schemas", rel), "utf8")) as Record<string, unknown>;
}

async function validationRows(ctx: BenchContext, tmp: string): Promise<BenchRow[]> {
  const out = path.join(tmp, "sample");
  await buildRegistry({ dir: ROOT, out });
  const mod = (await import(pathToFileURL(path.join(out, "index.js")).href)) as CompiledRegistry;
  const generated = mod.validators["order.created/v2"]!;

  const ajv = createAjv("2020-12");
  ajv.addSchema(schemaFile("_common/money.json"));
  const runtime = ajv.compile(schemaFile("order.created/v2.json"));

  const cf = new Validator(schemaFile("order.created/v2.json") as never, "2020-12", true);
  cf.addSchema(schemaFile("_common/money.json") as never);
  const cfworker = (d: unknown) => cf.validate(d).valid;

  ctx.progress("registry: validating order.created v2 (generated, runtime ajv, @cfworker/json-schema)");
  const g = throughput(generated, ctx.seconds);
  const r = throughput(runtime, ctx.seconds);
  const c = throughput(cfworker, ctx.seconds);
  const row = (name: string, value: number, extra: Partial<BenchRow> = {}): BenchRow => ({ group: "registry", name, value: Math.round(value), unit: "docs/s", better: "higher", ...extra });
  return [
    row("validate order.created v2: generated (ajv standalone)", g, { ratio: { against: "@cfworker/json-schema", value: ratio(g, c), goal: "≥ 5×" } }),
    row("validate order.created v2: runtime ajv", r, { ratio: { against: "generated", value: ratio(r, g) } }),
    row("validate order.created v2: @cfworker/json-schema", c),
  ];
}

/** A registry of `TYPES` types, two versions each (v2 adds an optional property), with examples. */
async function generateRegistry(dir: string): Promise<void> {
  await git.init({ fs, dir, defaultBranch: "main" });
  const write = (rel: string, json: unknown) => {
    const abs = path.join(dir, "schemas", rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, JSON.stringify(json, null, 2));
  };
  write("_common/money.json", schemaFile("_common/money.json"));
  for (let i = 0; i < TYPES; i++) {
    const type = `bench.type-${i}`;
    const props: Record<string, unknown> = { id: { type: "string", maxLength: 64 }, total: { $ref: "../_common/money.json" } };
    for (let p = 0; p < 6; p++) props[`field${p}`] = p % 2 ? { type: "integer", minimum: 0 } : { type: "string", maxLength: 100 + i };
    const v1 = { $id: `https://schemas.jetgate.dev/${type}/v1.json`, description: `${type} v1`, type: "object", properties: props, required: ["id"], additionalProperties: false };
    const v2 = { ...v1, $id: `https://schemas.jetgate.dev/${type}/v2.json`, description: `${type} v2`, properties: { ...props, note: { type: "string" } } };
    write(`${type}/type.json`, { description: `benchmark type ${i}`, owners: ["bench@example.com"], compatibility: "BACKWARD" });
    write(`${type}/v1.json`, v1);
    write(`${type}/v2.json`, v2);
    write(`${type}/examples/v1.json`, { id: "x", field0: "a", field1: 1 });
    write(`${type}/examples/v2.json`, { id: "y", note: "n" });
  }
}

async function scaleRows(ctx: BenchContext, tmp: string): Promise<BenchRow[]> {
  const repo = path.join(tmp, "repo500");
  ctx.progress(`registry: generating ${TYPES} types`);
  await generateRegistry(repo);
  const timed = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
    const t0 = performance.now();
    const v = await f();
    return [v, performance.now() - t0];
  };
  ctx.progress("registry: check (500 types)");
  const [report, checkMs] = await timed(() => checkRegistry({ dir: repo }));
  if (!report.ok) throw new Error(`generated registry failed check: ${report.findings[0]?.message}`);
  const out = path.join(tmp, "out500");
  ctx.progress("registry: build (500 types, cold)");
  const [cold, buildMs] = await timed(() => buildRegistry({ dir: repo, out, onProgress: (p) => p.done % 250 === 0 && ctx.progress(`registry: built ${p.done}/${p.total}`) }));
  ctx.progress("registry: rebuild with no change");
  const [warm, rebuildMs] = await timed(() => buildRegistry({ dir: repo, out }));
  if (warm.reused !== cold.compiled) throw new Error("rebuild did not reuse every validator");
  const row = (name: string, value: number, note?: string): BenchRow => ({ group: "registry", name, value: Math.round(value), unit: "ms", better: "lower", ...(note ? { note } : {}) });
  return [
    row(`check, ${TYPES} types / ${report.versions} versions (working tree)`, checkMs),
    row(`build, ${TYPES} types, cold (check included)`, buildMs, `${cold.compiled} validators compiled`),
    row(`rebuild, ${TYPES} types, no change (check included)`, rebuildMs, `${warm.reused} validators reused`),
  ];
}

export default async function registryBench(ctx: BenchContext): Promise<BenchRow[]> {
  const base = path.join(ROOT, ".jetgate", "tmp");
  fs.mkdirSync(base, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(base, "bench-registry-"));
  try {
    return [...(await validationRows(ctx, tmp)), ...(await scaleRows(ctx, tmp))];
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
