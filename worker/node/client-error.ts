// Requests Node's HTTP parser refuses before the app sees them (a bad header byte, an invalid or
// doubled Content-Length, headers past its 16 KiB limit, …). Node's default answer is a bare 400
// or 431 with no body; the edge's contract is a problem+json for every refusal, so this writes
// one, then closes the connection (the parser cannot find the next request after a bad one).
import type { Socket } from "node:net";
import { makeProblem, PROBLEM_CONTENT_TYPE, type ProblemKind } from "../http/problems.ts";

/** Node's parser error codes (llhttp) that mean "your headers are too large". */
const HEADER_OVERFLOW = new Set(["HPE_HEADER_OVERFLOW"]);

export function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  // The client is gone, or an answer already started on this socket: nothing useful to write.
  const current = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code === "ECONNRESET" || !socket.writable || current?.headersSent) {
    socket.destroy();
    return;
  }
  const kind: ProblemKind = HEADER_OVERFLOW.has(err.code ?? "") ? "HEADERS_TOO_LARGE" : "MALFORMED_REQUEST";
  const detail = kind === "HEADERS_TOO_LARGE" ? "the request headers are larger than the server accepts" : `the request could not be parsed as HTTP/1.1 (${err.code ?? "parse error"})`;
  const problem = makeProblem(kind, detail);
  const body = JSON.stringify(problem);
  socket.end(
    `HTTP/1.1 ${problem.status} ${problem.status === 431 ? "Request Header Fields Too Large" : "Bad Request"}\r\n` +
      `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
