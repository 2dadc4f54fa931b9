// Peers that only the benchmarks run (BullMQ + ioredis). They live outside package.json on
// purpose: bullmq's native msgpackr-extract lists platform packages that this npm registry
// does not serve, and a lock file without them makes `npm ci` refuse to install anything. So the
// first `npm run bench` installs them into .jetgate/bench-peers/ (gitignored), pinned here.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const ROOT = join(import.meta.dirname, "..");
export const PEERS_DIR = join(ROOT, ".jetgate/bench-peers");
const PINNED: Record<string, string> = { bullmq: "5.81.5", ioredis: "5.11.1" };

/** Installs (once) and imports a benchmark peer by name. */
export async function importPeer<T>(name: keyof typeof PINNED & string, progress: (line: string) => void): Promise<T> {
  if (!existsSync(join(PEERS_DIR, "node_modules", name, "package.json"))) {
    mkdirSync(PEERS_DIR, { recursive: true });
    writeFileSync(join(PEERS_DIR, "package.json"), JSON.stringify({ private: true, name: "jetgate-bench-peers" }));
    const specs = Object.entries(PINNED).map(([pkg, version]) => `${pkg}@${version}`);
    progress(`installing benchmark peers into ${PEERS_DIR}: ${specs.join(" ")}`);
    const result = spawnSync("npm", ["install", "--no-audit", "--no-fund", "--no-save", "--prefix", PEERS_DIR, ...specs], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    if (result.status !== 0) throw new Error(`could not install ${specs.join(" ")} into ${PEERS_DIR}`);
  }
  const resolved = createRequire(join(PEERS_DIR, "package.json")).resolve(name);
  return (await import(pathToFileURL(resolved).href)) as T;
}
