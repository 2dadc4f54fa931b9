// The broker contract: what every part must agree on about JetStream and the messages in it —
// stream names and settings, subjects, the event-type grammar, header names, the event message
// (CloudEvent ↔ NATS message, percent-encoding, the event's identity). Creating streams and
// waiting for leaders need JetStream's client and live in broker/jetstream/.
// Runtime-neutral — no `node:*` import and no side effect on import — so the worker bundle for
// workerd, the bridge and the tests all import it (test/edge/workerd-imports.test.ts holds it to
// that). Starting nats-server processes is Node-only and lives apart, in broker/server/.
export * from "./streams.ts";
export * from "./errors.ts";
export * from "./subjects.ts";
export * from "./event-type.ts";
export * from "./type-globs.ts";
export * from "./headers.ts";
export * from "./media-type.ts";
export * from "./percent-encoding.ts";
export * from "./event-identity.ts";
export * from "./event-message.ts";
export * from "./structured-event.ts";
