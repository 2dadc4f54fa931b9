// Running nats-server (Node only): the binary the stack, the tests, the benchmarks and CI use, and
// the launcher of one node or a 3-node JetStream cluster. Not part of the broker contract
// (broker/index.ts), which has to load in workerd too.
export * from "./launcher.ts";
export * from "./nats-binary.ts";
