// The one seam between the client and a WebSocket: what it uses of one (the browser's, or the ws
// package's on Node 20, which has no global WebSocket), and how it lets one go.

/** What the client needs of a WebSocket: the browser's, or `ws` on Node 20 (which has none). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}
export type WebSocketConstructor = new (url: string, protocols: string[]) => SocketLike;

/** Stops hearing from a socket being given up: nothing it says later may touch the client. */
export function detach(socket: SocketLike): void {
  socket.onmessage = null;
  socket.onclose = null;
  socket.onerror = () => {};
}

export function closeQuietly(socket: SocketLike, code: number, reason: string): void {
  try {
    socket.close(code, reason);
  } catch {
    // Already closed, or still connecting in a runtime that refuses close() then.
  }
}
