// Free loopback ports for tests and benchmarks, outside the kernel's ephemeral range. A port the
// OS hands out for listen(0) comes from that range, which is also where every outgoing connection
// takes its source port: between picking the port and the server binding it, one of the many
// connections a run opens (to nats-server, to receivers) can take it, and a CI run once failed
// with workerd's "Address already in use" that way. Ports are picked at random below the range
// (and above the local stack's fixed ports), each checked by binding it once.
import { createServer } from "node:net";
import { readFileSync } from "node:fs";

/** Linux's default ephemeral range starts here; the real start is read from /proc when present. */
const DEFAULT_EPHEMERAL_START = 32768;
const LOWEST = 20000;
const TRIES = 50;

function ephemeralStart(): number {
  try {
    const [start] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    return start && start > LOWEST + 1000 ? start : DEFAULT_EPHEMERAL_START;
  } catch {
    return DEFAULT_EPHEMERAL_START;
  }
}

const HIGHEST = ephemeralStart() - 1;

/** Binds `port` (0: any) on loopback and closes it; the port bound, or null if it was taken. */
function tryPort(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.on("error", () => resolve(null));
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      const bound = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(bound));
    });
  });
}

export async function freePort(): Promise<number> {
  for (let i = 0; i < TRIES; i++) {
    const port = await tryPort(LOWEST + Math.floor(Math.random() * (HIGHEST - LOWEST + 1)));
    if (port !== null) return port;
  }
  // A crowded range: let the OS choose, as before.
  const port = await tryPort(0);
  if (port === null) throw new Error("no free loopback port");
  return port;
}

export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}
