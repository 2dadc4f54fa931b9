// Headless Chromium for the browser tests: Debian's `chromium` package driven by playwright-core
// (no browser download), a fresh profile in a temp dir each time, and the flags that keep it
// from reaching the internet, which there is none of (updates, sync, QUIC, field trials).
// Stop it with `stop()` in t.after(): it closes the browser and removes the profile.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";

export const CHROMIUM_PATH = "/usr/bin/chromium";

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Why the browser tests cannot run here, or false when they can (node:test's `skip` takes either). */
export function chromiumMissing(): string | false {
  if (existsSync(CHROMIUM_PATH)) return false;
  return `no chromium at ${CHROMIUM_PATH}: install Debian's package (apt-get install chromium), as .ci/run does`;
}

export interface TestBrowser {
  context: BrowserContext;
  stop(): Promise<void>;
}

export async function startTestBrowser(): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), "jetgate-chromium-"));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 30_000,
    });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  return {
    context,
    async stop() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
