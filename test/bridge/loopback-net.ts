// The network of a bridge under test: names resolve from a table (never through DNS), and the
// connector refuses to open a socket to anything but a loopback address, whatever the product
// would do. So a broken SSRF guard fails a test instead of reaching out of the machine.
import ipaddr from "ipaddr.js";
import type { LookupAddress } from "node:dns";
import type { DelivererNet } from "../../bridge/delivery/webhook-post.ts";

export interface LoopbackNet {
  net: DelivererNet;
  /** Every lookup asked for, in order. */
  lookups: string[];
  /** Every address a socket was opened to. */
  connects: string[];
  /** Addresses the test connector refused because they are not loopback (must stay empty). */
  nonLoopback: string[];
}

/** `names[name](n)` gives the addresses of the n-th lookup (0-based) of that name. */
export function loopbackNet(names: Record<string, (n: number) => string[]> = {}): LoopbackNet {
  const lookups: string[] = [];
  const connects: string[] = [];
  const nonLoopback: string[] = [];
  const asked = new Map<string, number>();
  const net: DelivererNet = {
    resolve(hostname, _options, callback) {
      lookups.push(hostname);
      const n = asked.get(hostname) ?? 0;
      asked.set(hostname, n + 1);
      const table = names[hostname] ?? (hostname === "localhost" ? () => ["127.0.0.1"] : undefined);
      queueMicrotask(() => {
        if (!table) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), []);
        const addresses: LookupAddress[] = table(n).map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
        callback(null, addresses);
      });
    },
    wrapConnect: (connect) => (options, callback) => {
      const host = options.hostname;
      if (!isLoopback(host)) {
        nonLoopback.push(host);
        return callback(new Error(`test network: refused to connect to non-loopback ${host}`), null);
      }
      connects.push(host);
      connect(options, callback);
    },
  };
  return { net, lookups, connects, nonLoopback };
}

function isLoopback(host: string): boolean {
  try {
    return ipaddr.process(host).range() === "loopback";
  } catch {
    return false;
  }
}
