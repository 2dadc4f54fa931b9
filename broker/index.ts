// The broker contract: what every part must agree on about JetStream (stream names and settings,
// the start-up wait, an event's identity). Runtime-neutral — no `node:*` import and no side effect
// on import — so the worker bundle for workerd, the bridge and the tests all import it.
// Starting nats-server processes is Node-only and lives apart, in broker/server/.
export * from "./streams.ts";
export * from "./errors.ts";
export * from "./ready.ts";
export * from "./event-identity.ts";
