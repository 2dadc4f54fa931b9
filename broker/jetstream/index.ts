// The broker's JetStream client side: the start-up wait on leaders (decision 15) and creating the
// contract's streams. Runtime-neutral like the contract (no `node:*`), but apart from it
// (broker/index.ts): it needs @nats-io/jetstream's client, which the edge never uses and which,
// being CommonJS, a bundler would carry into the Worker whole.
export * from "./ready.ts";
export * from "./ensure-streams.ts";
