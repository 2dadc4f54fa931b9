// SSRF guard: a webhook URL is chosen by whoever manages subscriptions, and the bridge runs inside
// the operator's network, so it must not become a way to reach loopback, private, link-local or
// cloud-metadata addresses. Checked twice: on the URL when a subscription is saved, and on every
// address DNS returns when a connection is opened (so a name that later resolves inward is caught),
// and the connection goes to the very address that was checked.
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from "node:dns";
import ipaddr from "ipaddr.js";
import type { buildConnector } from "undici";
import { BridgeError } from "../errors.ts";

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

/** Name resolution in the shape of node:dns `lookup` with `all: true`; injectable so tests never query DNS. */
export type Resolver = (hostname: string, options: LookupAllOptions, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

export const systemResolver: Resolver = (hostname, options, callback) => dnsLookup(hostname, options, callback);

/**
 * Resolves a name and refuses it if any returned address is refused: checking every address (not
 * just the first) defeats a name that answers with one public and one private address.
 */
function resolveChecked(hostname: string, policy: SsrfPolicy, resolve: Resolver, callback: (err: Error | null, addresses: LookupAddress[]) => void): void {
  resolve(hostname, { all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    if (addresses.length === 0) return callback(new BridgeError("SSRF_REFUSED", `${hostname} resolved to no address`, { hostname }), []);
    for (const { address } of addresses) {
      const reason = addressRefusal(address, policy);
      if (reason) return callback(new BridgeError("SSRF_REFUSED", `refused connection to ${hostname}: ${reason}`, { hostname, address }), []);
    }
    callback(null, addresses);
  });
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** resolveChecked as a `lookup` for net/tls.connect. */
export function guardedLookup(policy: SsrfPolicy, resolve: Resolver = systemResolver) {
  return (hostname: string, options: LookupAllOptions | number | object, callback: LookupCallback): void => {
    const opts = typeof options === "number" ? { family: options } : (options as Record<string, unknown>);
    resolveChecked(hostname, policy, resolve, (err, addresses) => {
      if (err) return callback(err as NodeJS.ErrnoException, []);
      if ((opts as { all?: boolean }).all) return callback(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  };
}

/**
 * An undici connector that only ever opens a socket to an address the guard checked: an IP
 * literal is checked as it is; a name is resolved once, here, every address checked, and the
 * socket opened to the first of them (the connection is pinned to it). A name that answers
 * differently on the next lookup (DNS rebinding) gets that answer checked again on the next
 * connection. `host` stays the name, so TLS still sends it as SNI and verifies the certificate
 * for it, and the Host header is unchanged. Redirects are never followed: undici's dispatch has
 * no redirect handler, and a 3xx is reported as the attempt's (failed) status.
 */
export function guardedConnector(policy: SsrfPolicy, resolve: Resolver, connect: buildConnector.connector): buildConnector.connector {
  return (options, callback) => {
    const host = stripBrackets(options.hostname);
    if (ipaddr.isValid(host)) {
      const reason = addressRefusal(host, policy);
      if (reason) return callback(new BridgeError("SSRF_REFUSED", `refused connection to ${host}: ${reason}`, { address: host }), null);
      return connect(options, callback);
    }
    resolveChecked(host, policy, resolve, (err, addresses) => {
      if (err) return callback(err, null);
      connect({ ...options, hostname: addresses[0]!.address }, callback);
    });
  };
}
