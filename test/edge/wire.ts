// Sends a WireRequest (arbitraries.ts) to an edge and reports what came back, or how the
// connection failed. Ordinary cases go through node:http on a keep-alive agent (as SDKs send:
// connection reuse is where an early close shows); raw cases are written byte for byte on a TCP
// socket, because node:http and fetch refuse to send malformed heads.
import http from "node:http";
import net from "node:net";
import type { WireRequest } from "./arbitraries.ts";

export interface WireAnswer {
  /** 0 when no answer arrived. */
  status: number;
  contentType: string;
  body: string;
  /** Set when the connection failed: ECONNRESET, "closed without an answer", timeout, … */
  networkError?: string;
}

const TIMEOUT_MS = 30_000;

export function sendWire(baseUrl: string, req: WireRequest, agent: http.Agent): Promise<WireAnswer> {
  return req.rawHead ? sendRaw(baseUrl, req) : sendHttp(baseUrl, req, agent);
}

function sendHttp(baseUrl: string, req: WireRequest, agent: http.Agent): Promise<WireAnswer> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    const headers: Record<string, string> = {};
    for (const [name, value] of req.headers) headers[name] = value;
    if (req.body.length > 0 || req.method === "POST") headers["content-length"] = String(req.body.length);
    const request = http.request(
      { host: url.hostname, port: url.port, method: req.method, path: req.target, headers, agent, timeout: TIMEOUT_MS },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers["content-type"] ?? ""), body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", (err) => resolve({ status: res.statusCode ?? 0, contentType: "", body: "", networkError: codeOf(err) }));
      },
    );
    request.on("timeout", () => request.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
    request.on("error", (err) => resolve({ status: 0, contentType: "", body: "", networkError: codeOf(err) }));
    request.end(req.body);
  });
}

function codeOf(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code ?? e.message ?? String(err);
}

/** One request on its own socket (Connection: close); the answer is read until the server closes. */
function sendRaw(baseUrl: string, req: WireRequest): Promise<WireAnswer> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (answer: WireAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const socket = net.connect(Number(url.port), url.hostname, () => socket.end(Buffer.concat([req.rawHead!, req.body])));
    const timer = setTimeout(() => finish({ status: 0, contentType: "", body: "", networkError: "TIMEOUT" }), TIMEOUT_MS);
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", (err) => {
      // A reset after a complete answer (the server closing with our body unread) still counts.
      const parsed = parseResponse(Buffer.concat(chunks));
      finish(parsed ? { ...parsed, networkError: codeOf(err) } : { status: 0, contentType: "", body: "", networkError: codeOf(err) });
    });
    socket.on("close", () => finish(parseResponse(Buffer.concat(chunks)) ?? { status: 0, contentType: "", body: "", networkError: "closed without an answer" }));
  });
}

function parseResponse(bytes: Buffer): WireAnswer | null {
  const end = bytes.indexOf("\r\n\r\n");
  if (end < 0) return null;
  const [statusLine, ...headerLines] = bytes.subarray(0, end).toString("latin1").split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? "")?.[1] ?? 0);
  if (!status) return null;
  const headers = new Map<string, string>();
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  let body = bytes.subarray(end + 4);
  if (headers.get("transfer-encoding")?.toLowerCase() === "chunked") body = dechunk(body);
  return { status, contentType: headers.get("content-type") ?? "", body: body.toString("utf8") };
}

function dechunk(bytes: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  while (at < bytes.length) {
    const lineEnd = bytes.indexOf("\r\n", at);
    if (lineEnd < 0) break;
    const size = parseInt(bytes.subarray(at, lineEnd).toString("latin1"), 16);
    if (!size) break;
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}
