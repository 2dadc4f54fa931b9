// The parts of the local stack after the broker, started in this order and stopped in reverse.
// Each returns the lines it adds to the banner.
import type { NatsConnection } from "@nats-io/nats-core";
import type { Broker } from "../broker/index.ts";
import type { STACK_PORTS } from "./stack.ts";

export interface StackContext {
  root: string;
  broker: Broker;
  nc: NatsConnection;
  log: (line: string) => void;
  ports: typeof STACK_PORTS;
  dataDir: string;
}

export interface StackStep {
  name: string;
  start(ctx: StackContext): Promise<{ stop: () => Promise<unknown>; banner: string[] }>;
}

export const STACK: StackStep[] = [];
