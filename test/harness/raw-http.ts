// One HTTP/1.1 exchange over a raw socket, for fuzzing: the request line, headers and body go out
// byte for byte (a `..` path segment, UTF-8 in a header, a body on GET — things fetch() normalises
// or refuses), and the answer is told apart from a connection the server reset or dropped.
import { connect } from "node:net";

export interface RawRequest {
  method: string;
  /** Sent as written (the caller encodes what must be encoded). */
  target: string;
  headers: Array<[string, string | Buffer]>;
  body?: Buffer;
}

export type RawOutcome =
  /** `error`: the socket failed after the complete answer arrived (e.g. reset with our body unread). */
  | { kind: "answer"; status: number; headers: Record<string, string>; body: Buffer; error?: string }
  /** The connection was reset or closed before a complete answer arrived. */
  | { kind: "reset"; error: string; partial: string };

/** Sends one request with `connection: close` and reads the answer to the end; never throws. */
export function rawExchange(url: string, req: RawRequest, timeoutMs = 30_000): Promise<RawOutcome> {
  const { hostname, port } = new URL(url);
  const head = [`${req.method} ${req.target} HTTP/1.1`, `host: ${hostname}:${port}`, "connection: close"];
  const parts: Buffer[] = [];
  for (const [name, value] of req.headers) parts.push(Buffer.from(`${name}: `), Buffer.isBuffer(value) ? value : Buffer.from(value, "utf8"), Buffer.from("\r\n"));
  if (req.body !== undefined) parts.push(Buffer.from(`content-length: ${req.body.length}\r\n`));
  const bytes = Buffer.concat([Buffer.from(head.join("\r\n") + "\r\n"), ...parts, Buffer.from("\r\n"), req.body ?? Buffer.alloc(0)]);
  return exchangeBytes(url, bytes, { timeoutMs, headOnly: req.method === "HEAD" });
}

/**
 * Writes `bytes` as they are on a new socket, then half-closes it when `halfClose` is set (for a
 * head that does not ask the server to close), and reads the answer until the server closes;
 * never throws.
 */
export function exchangeBytes(url: string, bytes: Buffer, opts: { timeoutMs?: number; headOnly?: boolean; halfClose?: boolean } = {}): Promise<RawOutcome> {
  const { hostname, port } = new URL(url);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    let error: string | undefined;
    let settled = false;
    const settle = (outcome: RawOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => settle({ kind: "reset", error: `no complete answer within ${timeoutMs} ms`, partial: Buffer.concat(chunks).toString("latin1").slice(0, 200) }), timeoutMs);
    socket.on("data", (c: Buffer) => chunks.push(c));
    // A write error after the answer arrived (the server answered early and closed) does not make
    // the exchange a reset: it is judged by whether the answer is complete, and reported beside it.
    socket.on("error", (err: NodeJS.ErrnoException) => {
      error = err.code ?? err.message;
    });
    socket.on("close", () => {
      const parsed = parseAnswer(Buffer.concat(chunks), opts.headOnly ?? false);
      if (parsed) settle(error ? { ...parsed, error } : parsed);
      else settle({ kind: "reset", error: error ?? "closed before a complete answer", partial: Buffer.concat(chunks).toString("latin1").slice(0, 200) });
    });
    if (opts.halfClose) socket.end(bytes);
    else socket.write(bytes);
  });
}

function parseAnswer(raw: Buffer, head: boolean): Extract<RawOutcome, { kind: "answer" }> | null {
  const end = raw.indexOf("\r\n\r\n");
  if (end < 0) return null;
  const lines = raw.subarray(0, end).toString("latin1").split("\r\n");
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
  if (!status) return null;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.subarray(end + 4);
  const code = Number(status[1]);
  if (head || code === 204 || code === 304) return { kind: "answer", status: code, headers, body: Buffer.alloc(0) };
  if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
    const decoded = dechunk(body);
    if (!decoded) return null;
    body = decoded;
  } else if (headers["content-length"] !== undefined) {
    const length = Number(headers["content-length"]);
    if (body.length < length) return null;
    body = body.subarray(0, length);
  }
  return { kind: "answer", status: code, headers, body };
}

/** The body of a chunked transfer, or null when the last chunk never came. */
function dechunk(raw: Buffer): Buffer | null {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = raw.indexOf("\r\n", at);
    if (lineEnd < 0) return null;
    const size = parseInt(raw.subarray(at, lineEnd).toString("latin1"), 16);
    if (Number.isNaN(size)) return null;
    if (size === 0) return Buffer.concat(out);
    const start = lineEnd + 2;
    if (raw.length < start + size) return null;
    out.push(raw.subarray(start, start + size));
    at = start + size + 2;
  }
}
