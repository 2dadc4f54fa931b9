// The browser client as it ships: the demo page's committed bundle (worker/http/demo-script.ts) is
// exactly what `npm run build:client` writes from client/ today, and the client stays small and
// self-contained (no dependency, nothing left for a page to fetch).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { demoScriptModule, DEMO_SCRIPT_HEADER, DEMO_SCRIPT_MODULE } from "../../client/build.ts";

const ROOT = resolve(import.meta.dirname, "../..");
/** "A few KB": the client alone, minified and gzipped, as a page would load it. */
const CLIENT_GZIP_BUDGET_BYTES = 4 * 1024;

test("the committed demo script module is what `npm run build:client` builds from client/ now", async () => {
  const committed = readFileSync(DEMO_SCRIPT_MODULE, "utf8");
  assert.ok(committed.startsWith(DEMO_SCRIPT_HEADER + "\n"), "its first line says it is generated, and by what");
  const fresh = await demoScriptModule();
  // Not assert.equal on 20 KB of text: the first differing line says what changed.
  const a = committed.split("\n");
  const b = fresh.split("\n");
  const at = a.findIndex((line, i) => line !== b[i]);
  const firstDiff = at === -1 && a.length !== b.length ? Math.min(a.length, b.length) : at;
  assert.equal(firstDiff, -1, `worker/http/demo-script.ts is stale from line ${firstDiff + 1} (committed ${JSON.stringify(a[firstDiff])}, built ${JSON.stringify(b[firstDiff])}): run npm run build:client`);
});

test("the client bundles from client/ and the shared protocol module alone, with no import left over, within a few KB gzipped", async () => {
  const result = await build({
    entryPoints: [join(ROOT, "client/index.ts")],
    bundle: true,
    format: "esm",
    target: "es2022",
    platform: "browser",
    minify: true,
    write: false,
    metafile: true,
    absWorkingDir: ROOT,
  });
  const inputs = Object.keys(result.metafile.inputs);
  // client/ and the one module the edge shares with it (the subprotocol names, the token's prefix, the close codes).
  const shared = "worker/sockets/protocol.ts";
  assert.deepEqual(inputs.filter((path) => !path.startsWith("client/") && path !== shared), [], "every input is a file of client/ or the shared protocol module");
  const output = Object.values(result.metafile.outputs)[0]!;
  assert.deepEqual(output.imports, [], "the bundle imports nothing");
  const gzipped = gzipSync(result.outputFiles[0]!.contents).byteLength;
  assert.ok(gzipped <= CLIENT_GZIP_BUDGET_BYTES, `the client is ${gzipped} bytes gzipped, over its ${CLIENT_GZIP_BUDGET_BYTES}`);
});
