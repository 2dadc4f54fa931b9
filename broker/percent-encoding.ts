// Percent-encoding of CloudEvents attribute values in headers (HTTP protocol binding §3.1.3.2):
// the edge encodes every ce-* value it writes into a NATS header, the bridge decodes them for
// structured-mode deliveries, and the event identity joins two encoded values with the one
// character the encoding never emits. Runtime-neutral: no node:*, no side effects on import.

const encoder = new TextEncoder();

/**
 * CloudEvents HTTP binding §3.1.3.2: space, `"`, `%` and everything outside printable ASCII is
 * percent-encoded (UTF-8), so attributes travel safely as NATS and HTTP headers. The output never
 * holds a space, which is what lets the event identity join two encoded values with one.
 */
export function percentEncode(value: string): string {
  let out = "";
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (code > 0x20 && code < 0x7f && ch !== '"' && ch !== "%") out += ch;
    else for (const byte of encoder.encode(ch)) out += "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/**
 * §3.1.3.2 the other way: a header value percent-decoded as UTF-8, or undefined when it is not
 * validly encoded (a stray `%`, bytes that are not UTF-8). The caller decides what that means: the
 * edge refuses the request, the bridge keeps the value as it was stored.
 */
export function percentDecode(value: string): string | undefined {
  if (!value.includes("%")) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}
