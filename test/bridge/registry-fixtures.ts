// Registry builds for the bridge tests: a real git repository of schemas in a temp dir, built by
// `jetgate registry build` (buildRegistry) into a dir inside the checkout (so the generated
// validators resolve ajv from node_modules), rebuilt in place as a schema author would.
import fs from "node:fs";
import path from "node:path";
import type { TestContext } from "node:test";
import { buildRegistry } from "../../registry/index.ts";
import { REPO_ROOT, Repo, repoTempDir, typeFiles } from "../registry/helpers.ts";

type Json = Record<string, unknown>;

const ORDER_DIR = path.join(REPO_ROOT, "schemas");

/** This repository's schemas/ (order.created v1/v2, _common/money.json) as files of a new repo. */
export function repoSchemas(): Record<string, unknown> {
  const files: Record<string, unknown> = {};
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const abs = path.join(dir, e.name);
      if (e.isDirectory()) walk(abs);
      else files[path.relative(REPO_ROOT, abs)] = fs.readFileSync(abs, "utf8");
    }
  };
  walk(ORDER_DIR);
  return files;
}

/**
 * invoice.sent: v1 requires `dueDate`, v2 makes it optional (BACKWARD-compatible), so a v2 event
 * without it cannot be shaped for v1. Both closed.
 */
export const INVOICE_V1: Json = { type: "object", properties: { invoiceId: { type: "string" }, dueDate: { type: "string", format: "date" } }, required: ["invoiceId", "dueDate"], additionalProperties: false };
export const INVOICE_V2: Json = { ...INVOICE_V1, properties: { ...(INVOICE_V1.properties as Json), note: { type: "string" } }, required: ["invoiceId"] };

export function invoiceFiles(): Record<string, unknown> {
  return typeFiles("invoice.sent", "BACKWARD", [INVOICE_V1, INVOICE_V2], [{ invoiceId: "i-1", dueDate: "2026-01-31" }, { invoiceId: "i-2", note: "thanks" }]);
}

export interface TestRegistry {
  repo: Repo;
  /** The build dir (JETGATE_BRIDGE_REGISTRY). */
  out: string;
  /** Writes files into the repo, commits and rebuilds into `out`. */
  rebuild(files: Record<string, unknown>, message?: string): Promise<string>;
}

export async function buildTestRegistry(t: TestContext, files: Record<string, unknown>): Promise<TestRegistry> {
  const repo = await Repo.create(t);
  const out = path.join(repoTempDir(t, "bridge-registry"), "registry");
  const rebuild = async (more: Record<string, unknown>, message = "schemas") => {
    repo.write(more);
    const commit = await repo.commit(message);
    await buildRegistry({ dir: repo.dir, ref: "main", out });
    return commit;
  };
  await rebuild(files, "first schemas");
  return { repo, out, rebuild };
}
