#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so `npx jetgate` works from a checkout without a build step.
// That makes tsx the CLI's runtime loader, which is why package.json lists it under `dependencies`
// (not devDependencies): `jetgate edge`, `jetgate bridge` and `jetgate registry check` must run after
// `npm ci --omit=dev` (.ci/omit-dev-check proves it). tsx is resolved from this file, not from the
// working directory, so the command also runs from outside the checkout.
// SIGINT/SIGTERM are passed on, so a supervisor stopping `jetgate bridge` or `jetgate stack` by
// this process's PID stops the command it runs instead of orphaning it.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsx = import.meta.resolve("tsx");
const child = spawn(process.execPath, ["--import", tsx, join(root, "cli/main.ts"), ...process.argv.slice(2)], {
  stdio: "inherit",
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.once("error", (err) => {
  console.error(err.message);
  process.exit(1);
});
child.once("exit", (code) => process.exit(code ?? 1));
