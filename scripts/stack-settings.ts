// The local stack's settings and their defaults, in one place: the fixed loopback ports of
// DESIGN.md (Contracts), the variable that moves them, and where the stack keeps its data. Loads
// nothing else, so the `jetgate stack` command can check its options before the stack is loaded.
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..");

/** nats-server data (and the built registry's sibling tools) of a stack started without --data-dir. */
export const DEFAULT_DATA_DIR = join(ROOT, ".jetgate");

export interface StackPorts {
  edge: number;
  bridge: number;
  receiver: number;
  nats: readonly number[];
  websocket: readonly number[];
  routes: readonly number[];
  monitor: readonly number[];
}

/** The fixed ports of the local stack (DESIGN.md, Contracts). Tests never use these. */
export const STACK_PORTS: StackPorts = {
  edge: 8787,
  bridge: 8790,
  receiver: 8791,
  nats: [4222, 4223, 4224],
  websocket: [9222, 9223, 9224],
  routes: [6222, 6223, 6224],
  monitor: [8222, 8223, 8224],
};

/** Environment variable that moves every port of the stack to a block starting at its value. */
export const PORT_BASE_ENV = "JETGATE_STACK_PORT_BASE";

/** The highest port of a block is base + PORT_BLOCK. */
const PORT_BLOCK = 42;

/**
 * The stack's ports: STACK_PORTS, or with a base B (--port-base / JETGATE_STACK_PORT_BASE) the
 * block B..B+42: edge B, bridge B+3, receiver B+4, nats B+10.., websocket B+20.., routes B+30..,
 * monitoring B+40... Lets a second stack (or a test) run beside the default one.
 * Throws RangeError for a base outside 1024..65535-42 (a usage error of the command).
 */
export function stackPorts(base?: number): StackPorts {
  if (base === undefined) return STACK_PORTS;
  if (!Number.isInteger(base) || base < 1024 || base > 65535 - PORT_BLOCK) {
    throw new RangeError(`port base must be an integer from 1024 to ${65535 - PORT_BLOCK}, got ${base}`);
  }
  const three = (offset: number) => [0, 1, 2].map((i) => base + offset + i);
  return { edge: base, bridge: base + 3, receiver: base + 4, nats: three(10), websocket: three(20), routes: three(30), monitor: three(40) };
}

/** What each nats-server of the stack may hold: issue 13's goal, RSS under 100 MB per node. */
export const NATS_MEMORY_BUDGET_BYTES = 100_000_000;

/** Environment variable that replaces the nodes' GOMEMLIMIT: a Go memory limit ("200MiB") or "off". */
export const NATS_MEMORY_LIMIT_ENV = "JETGATE_NATS_GOMEMLIMIT";

/**
 * The GOMEMLIMIT of the stack's nodes: 90% of the budget (85 MiB), the share NATS's Helm chart
 * gives the Go runtime of its container's memory limit; the rest is what the Go runtime does not
 * count (the binary's pages). It is a soft limit: a node whose live data needs more keeps working
 * and collects more often. Why a limit at all: see broker/server/launcher.ts, `memoryLimit`.
 */
export function natsMemoryLimit(env: NodeJS.ProcessEnv = process.env): string {
  return env[NATS_MEMORY_LIMIT_ENV] || `${Math.floor((NATS_MEMORY_BUDGET_BYTES * 0.9) / 1024 / 1024)}MiB`;
}
