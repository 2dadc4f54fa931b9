// The broker room's public face: launching nats-server and the stream contract.
export * from "./server/launcher.ts";
export * from "./server/nats-binary.ts";
export * from "./streams.ts";
export * from "./errors.ts";
export * from "./ready.ts";
