// `wrangler deploy --dry-run` must succeed from wrangler.toml as checked in (no nodejs_compat),
// and the Worker bundle must stay well under Cloudflare's size limits (goal: < 1 MiB gzip).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { WRANGLER_TOML } from "../../worker/node/paths.ts";
import { buildRegistry, DEFAULT_OUT } from "../../registry/index.ts";

const ROOT = join(import.meta.dirname, "../..");

test("wrangler deploy --dry-run bundles the Worker without nodejs_compat, under 1 MiB gzip", async (t) => {
  // As a real deploy does: build schemas/ into the path wrangler.toml's alias names, then bundle.
  await buildRegistry({ dir: join(ROOT, "schemas"), out: join(ROOT, DEFAULT_OUT) });
  const outdir = mkdtempSync(join(tmpdir(), "jetgate-dryrun-"));
  t.after(() => rmSync(outdir, { recursive: true, force: true }));
  assert.doesNotMatch(readFileSync(WRANGLER_TOML, "utf8"), /^compatibility_flags.*nodejs_compat/m);
  const run = spawnSync(
    "npx",
    ["wrangler", "deploy", "--dry-run", "--outdir", outdir],
    { cwd: ROOT, encoding: "utf8", timeout: 120_000, env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" } },
  );
  assert.equal(run.status, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /Total Upload: [\d.]+ KiB \/ gzip: [\d.]+ KiB/);
  const bundle = readFileSync(join(outdir, "entry.js"));
  assert.ok(gzipSync(bundle).byteLength < 1024 * 1024, "gzip size under 1 MiB");
  assert.doesNotMatch(bundle.toString("utf8"), /from\s*"node:/, "nothing in the bundle needs node: modules");
});
