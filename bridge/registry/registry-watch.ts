// Keeps the bridge's registry current (issue 14): loads the build in JETGATE_BRIDGE_REGISTRY at
// start, then reloads it when `jetgate registry build` rewrites it. The build writes index.js last
// and atomically (a rename), so a change of index.js's content is a complete new build. fs.watch
// on the directory says so at once where the platform reports it; a poll every POLL_MS covers
// file systems that do not (network mounts, some containers). A build that fails to load keeps
// the last good one in service and is logged once per distinct broken build, not once per poll.
import { watch, type FSWatcher } from "node:fs";
import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import { BUILD_INDEX, loadBuild, readBuildHash } from "./load-build.ts";
import { LoadedRegistry } from "./loaded-registry.ts";

/** How often the build's index.js is read when no watch event came. */
export const POLL_MS = 2_000;
/** Watch events arrive in bursts (write, rename); one reload after the last of them. */
const SETTLE_MS = 100;

export interface RegistrySource {
  /** The registry in service, or undefined when none is configured or none loaded yet. */
  current(): LoadedRegistry | undefined;
}

export class RegistryWatcher implements RegistrySource {
  private loaded: LoadedRegistry | undefined;
  private brokenHash: string | undefined;
  private watcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;
  private settle: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private readonly info: Gauge<"commit" | "hash">;
  private readonly loads: Counter<"outcome">;
  private readonly listeners = new Set<(r: LoadedRegistry) => void>();

  constructor(
    readonly dir: string,
    private readonly log: Logger,
    metrics: Registry,
    private readonly pollMs = POLL_MS,
  ) {
    this.info = new Gauge({ name: "jetgate_bridge_registry_info", help: "The registry build in service (1), by the commit it was built from and its index.js hash", labelNames: ["commit", "hash"], registers: [metrics] });
    this.loads = new Counter({ name: "jetgate_bridge_registry_loads_total", help: "Loads of the registry build by outcome (loaded, failed: the last good build stays in service)", labelNames: ["outcome"], registers: [metrics] });
  }

  current(): LoadedRegistry | undefined {
    return this.loaded;
  }

  /** Called with every build that comes into service after start. */
  onReload(listener: (r: LoadedRegistry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Loads the build (throws when the first one cannot be loaded) and starts watching. */
  async start(): Promise<LoadedRegistry> {
    const { compiled, hash } = await loadBuild(this.dir);
    this.use(await LoadedRegistry.from(compiled, hash));
    try {
      this.watcher = watch(this.dir, (_event, name) => {
        if (name === null || name === BUILD_INDEX) this.soon();
      });
      this.watcher.on("error", (err) => this.log.warn({ err, dir: this.dir }, "watching the registry build failed; polling only"));
    } catch (err) {
      this.log.warn({ err, dir: this.dir }, "the registry build cannot be watched; polling only");
    }
    this.poll = setInterval(() => void this.reload(), this.pollMs);
    this.poll.unref();
    return this.loaded!;
  }

  /** Loads the build again if it changed; one reload at a time, and one more if asked meanwhile. */
  reload(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.check().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        void this.reload();
      }
    });
    return this.running;
  }

  stop(): void {
    this.watcher?.close();
    clearInterval(this.poll);
    clearTimeout(this.settle);
  }

  private soon(): void {
    clearTimeout(this.settle);
    this.settle = setTimeout(() => void this.reload(), SETTLE_MS);
    this.settle.unref();
  }

  private async check(): Promise<void> {
    let hash: string;
    try {
      hash = await readBuildHash(this.dir);
    } catch (err) {
      return this.broken("missing", err);
    }
    if (hash === this.loaded?.hash || hash === this.brokenHash) return;
    try {
      const { compiled, hash: loadedHash } = await loadBuild(this.dir);
      this.use(await LoadedRegistry.from(compiled, loadedHash));
    } catch (err) {
      this.broken(hash, err);
    }
  }

  private broken(hash: string, err: unknown): void {
    if (this.brokenHash === hash) return;
    this.brokenHash = hash;
    this.loads.inc({ outcome: "failed" });
    this.log.error({ err, dir: this.dir, serving: this.loaded?.commit ?? null }, "the registry build does not load; the last good build stays in service");
  }

  private use(next: LoadedRegistry): void {
    const first = this.loaded === undefined;
    this.loaded = next;
    this.brokenHash = undefined;
    this.info.reset();
    this.info.set({ commit: next.commit ?? "uncommitted", hash: next.hash.slice(0, 16) }, 1);
    this.loads.inc({ outcome: "loaded" });
    this.log.info({ dir: this.dir, commit: next.commit, ref: next.manifest.ref, builtAt: next.manifest.builtAt, types: next.types().length }, first ? "registry build loaded" : "registry build reloaded");
    if (!first) for (const listener of this.listeners) listener(next);
  }
}
