// SSRF guard: a webhook URL is chosen by whoever manages subscriptions, and the bridge runs inside
// the operator's network, so it must not become a way to reach loopback, private, link-local or
// cloud-metadata addresses. Checked twice: on the URL when a subscription is saved, and on every
// address DNS returns when a connection is opened (so a name that later resolves inward is caught).
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from "node:dns";
import ipaddr from "ipaddr.js";
import { BridgeError } from "./errors.ts";

type Addr = ipaddr.IPv4 | ipaddr.IPv6;
type Cidr = [Addr, number];

/**
 * Ranges refused even when ipaddr.js calls them "unicast": cloud metadata endpoints that sit in
 * public or unusual space (Alibaba 100.100.100.200 is inside CGNAT, already refused; AWS IPv6
 * metadata fd00:ec2::254 is unique-local, already refused; Oracle 192.0.0.192 is IETF reserved).
 * Kept explicit so a future ipaddr.js classification change cannot open them.
 */
const ALWAYS_BLOCKED: string[] = ["169.254.0.0/16", "100.100.100.200/32", "192.0.0.0/24", "fd00:ec2::/32"];

export interface SsrfPolicy {
  allow: Cidr[];
  httpsOnly: boolean;
}

function parseCidr(entry: string): Cidr {
  const text = entry.trim();
  if (text.includes("/")) return ipaddr.parseCIDR(text) as Cidr;
  const addr = ipaddr.parse(text);
  return [addr, addr.kind() === "ipv4" ? 32 : 128];
}

/** Parses an allow-list of addresses and CIDRs; throws on a malformed entry. */
export function parseAllowList(entries: string[]): Cidr[] {
  return entries.map((entry) => {
    try {
      return parseCidr(entry);
    } catch {
      throw new Error(`not an IP address or CIDR: ${JSON.stringify(entry)}`);
    }
  });
}

const BLOCKED = ALWAYS_BLOCKED.map(parseCidr);

function matches(addr: Addr, cidr: Cidr): boolean {
  return addr.kind() === cidr[0].kind() && addr.match(cidr);
}

/** Null when the address may be contacted, else the reason it may not. */
export function addressRefusal(address: string, policy: SsrfPolicy): string | null {
  let addr: Addr;
  try {
    // process() turns IPv4-mapped IPv6 (::ffff:127.0.0.1) into the IPv4 address it carries.
    addr = ipaddr.process(address);
  } catch {
    return `not an IP address: ${address}`;
  }
  if (policy.allow.some((cidr) => matches(addr, cidr))) return null;
  if (BLOCKED.some((cidr) => matches(addr, cidr))) return `${address} is a cloud-metadata or reserved address`;
  const range = addr.range();
  if (range !== "unicast") return `${address} is in the ${range} range`;
  return null;
}

function stripBrackets(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/** Checks a subscription URL: scheme, and the host when it is an IP literal or "localhost". */
export function checkUrl(raw: string, policy: SsrfPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new BridgeError("SSRF_REFUSED", `not a URL: ${raw}`, { url: raw });
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new BridgeError("SSRF_REFUSED", `only http and https URLs are delivered to, not ${url.protocol}`, { url: raw });
  }
  if (policy.httpsOnly && url.protocol !== "https:") {
    throw new BridgeError("SSRF_REFUSED", "https-only is on: http URLs are refused", { url: raw });
  }
  if (url.username || url.password) {
    throw new BridgeError("SSRF_REFUSED", "credentials in the URL are refused; use headers or the signature", { url: raw });
  }
  const host = stripBrackets(url.hostname);
  if (ipaddr.isValid(host)) {
    const reason = addressRefusal(host, policy);
    if (reason) throw new BridgeError("SSRF_REFUSED", `refused ${raw}: ${reason}`, { url: raw, address: host });
  } else if (host === "localhost" || host.endsWith(".localhost")) {
    const reason = addressRefusal("127.0.0.1", policy);
    if (reason) throw new BridgeError("SSRF_REFUSED", `refused ${raw}: localhost is loopback`, { url: raw });
  }
  return url;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for net/tls.connect that resolves as usual and then refuses the connection if any
 * returned address is refused: checking every address (not just the first) defeats a name that
 * answers with one public and one private address.
 */
export function guardedLookup(policy: SsrfPolicy) {
  return (hostname: string, options: LookupAllOptions | number | object, callback: LookupCallback): void => {
    const opts = typeof options === "number" ? { family: options } : (options as Record<string, unknown>);
    dnsLookup(hostname, { ...opts, all: true } as LookupAllOptions, (err, addresses) => {
      if (err) return callback(err, []);
      for (const { address } of addresses) {
        const reason = addressRefusal(address, policy);
        if (reason) {
          const refused = new BridgeError("SSRF_REFUSED", `refused connection to ${hostname}: ${reason}`, { hostname, address });
          return callback(refused as unknown as NodeJS.ErrnoException, []);
        }
      }
      if ((opts as { all?: boolean }).all) return callback(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  };
}
