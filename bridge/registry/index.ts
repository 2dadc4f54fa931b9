// The bridge's registry part: the loaded build (types, versions, schemas, strict and projecting
// validators) and the watcher that keeps it current. Delivery and the admin API import this face.
export { LoadedRegistry, type CheckResult, type VersionRef } from "./loaded-registry.ts";
export { RegistryWatcher, POLL_MS, type RegistrySource } from "./registry-watch.ts";
export { loadBuild, type LoadedBuild } from "./load-build.ts";
