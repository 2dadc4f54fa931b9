// GET /demo, the dev page (worker/http/routes-demo.ts), in-process through app.request(): off
// unless DEMO_PAGE says so, and when on, a page that carries its script intact. The page working
// in a real browser against both runtimes is test/e2e/browser.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createApp } from "../../worker/http/app.ts";
import { DEFAULTS, parseConfig } from "../../worker/config.ts";
import { DEV_API_KEY, devApiKeys } from "../../worker/auth/keys.ts";
import { loadRegistry } from "../../worker/node/registry-loader.ts";
import type { Publisher } from "../../worker/publish/publisher.ts";
import { DEMO_EXAMPLE, DEMO_SCRIPT } from "../../worker/http/demo-script.ts";
import { writeTestRegistry } from "./fixtures.ts";

/** The page never publishes through the app itself: a publisher that is never reached. */
const UNUSED_PUBLISHER: Publisher = {
  publishMany: async () => assert.fail("GET /demo must not publish"),
  health: async () => ({ reachable: true, detail: "unused" }),
  close: async () => {},
};

async function appWith(vars: Record<string, string>) {
  const registry = await loadRegistry(writeTestRegistry());
  const config = parseConfig({ NATS_URLS: "nats://127.0.0.1:1", API_KEYS: JSON.stringify(await devApiKeys()), LOG_REQUESTS: "false", ...vars }, "NATS_URLS");
  return createApp({ registry, publisher: UNUSED_PUBLISHER, config });
}

test("DEMO_PAGE is off by default and reads like LOG_REQUESTS", () => {
  assert.equal(DEFAULTS.DEMO_PAGE, false);
  const demoPage = (value?: string) => parseConfig({ NATS_URLS: "nats://x:1", ...(value === undefined ? {} : { DEMO_PAGE: value }) }, "NATS_URLS").demoPage;
  assert.equal(demoPage(), false);
  assert.equal(demoPage(""), false);
  assert.equal(demoPage("false"), false);
  assert.equal(demoPage("0"), false);
  assert.equal(demoPage("true"), true);
  assert.equal(demoPage("TRUE"), true);
});

test("without DEMO_PAGE there is no /demo: 404 not-found, as for any path the edge does not have", async () => {
  const app = await appWith({});
  const res = await app.request("/demo");
  assert.equal(res.status, 404);
  assert.equal((await res.json()).type, "https://jetgate.dev/problems/not-found");
});

test("with DEMO_PAGE=true, GET /demo is an uncached HTML page with the dev key, the registered types, the example and the whole script", async () => {
  const app = await appWith({ DEMO_PAGE: "true" });
  const res = await app.request("/demo");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html; charset=utf-8$/i);
  assert.equal(res.headers.get("cache-control"), "no-store");
  const html = await res.text();
  assert.ok(html.includes(`id="api-key" value="${DEV_API_KEY}"`), "the dev key is prefilled");
  assert.ok(html.includes('<option value="order.created"></option>') && html.includes('<option value="payment.settled"></option>'), "the registered types are offered");
  assert.ok(html.includes(`value="${DEMO_EXAMPLE.type}"`), "the example's type is prefilled");
  assert.ok(html.includes(JSON.stringify(DEMO_EXAMPLE.data, null, 2).replaceAll('"', "&quot;")), "the example's data is prefilled, escaped");
  const script = /<script type="module">([\s\S]*)<\/script>/.exec(html)?.[1];
  assert.ok(script, "the page has its module script");
  assert.equal(script.replaceAll("<\\/script", "</script").replaceAll("<\\!--", "<!--"), DEMO_SCRIPT, "the script is the generated one, only </script and <!-- escaped");
  assert.equal((await app.request("/demo", { method: "POST" })).status, 405, "other methods are 405 with Allow");
});
