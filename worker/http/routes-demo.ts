// GET /demo: the browser demo page (demo-page.ts around the bundled client, demo-script.ts).
// Registered only when DEMO_PAGE is on (the local stack): it carries the dev API key, so a
// deployed edge must not serve it (app.ts leaves the route out, and /demo is then a 404).
import type { Hono } from "hono";
import type { AppEnv } from "./context.ts";
import type { RegistryView } from "../events/schema-registry.ts";
import { demoPage } from "./demo-page.ts";
import { DEMO_EXAMPLE, DEMO_SCRIPT } from "./demo-script.ts";

export function registerDemoRoutes(app: Hono<AppEnv>, registry: RegistryView): void {
  // Built once: the registry and the script do not change while the edge runs.
  const html = demoPage({ types: Object.keys(registry.compiled.manifest.types).sort(), example: DEMO_EXAMPLE, script: DEMO_SCRIPT });
  app.get("/demo", (c) => {
    c.header("cache-control", "no-store");
    c.header("referrer-policy", "no-referrer");
    return c.html(html);
  });
}
