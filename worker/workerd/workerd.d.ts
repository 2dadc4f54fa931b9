// The few workerd types the edge uses, declared here rather than pulling
// @cloudflare/workers-types into the global scope (it clashes with the DOM and Node typings that
// the rest of the repo compiles against). Shapes follow @cloudflare/workers-types.
declare module "cloudflare:workers" {
  export abstract class DurableObject<Env = unknown> {
    protected ctx: DurableObjectState;
    protected env: Env;
    constructor(ctx: DurableObjectState, env: Env);
  }
  export interface DurableObjectState {
    readonly id: DurableObjectId;
    waitUntil(promise: Promise<unknown>): void;
    /** The WebSocket Hibernation API: the runtime holds the socket and wakes the object for its events. */
    acceptWebSocket(ws: WorkerdWebSocket, tags?: string[]): void;
    getWebSockets(tag?: string): WorkerdWebSocket[];
  }
  /** workerd's WebSocket: the web one, plus a small attachment that survives hibernation. */
  export interface WorkerdWebSocket {
    send(message: string | ArrayBuffer | ArrayBufferView): void;
    close(code?: number, reason?: string): void;
    readonly readyState: number;
    serializeAttachment(value: unknown): void;
    deserializeAttachment(): unknown;
  }
  export interface DurableObjectId {
    toString(): string;
    readonly name?: string;
  }
  export interface DurableObjectNamespace<T = unknown> {
    idFromName(name: string): DurableObjectId;
    get(id: DurableObjectId): DurableObjectStub<T>;
  }
  /** RPC stub: every method of the object, returning a promise; fetch() reaches the object's fetch handler. */
  export type DurableObjectStub<T> = {
    [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
  } & { fetch(request: Request): Promise<Response> };
  export interface ExecutionContext {
    waitUntil(promise: Promise<unknown>): void;
    passThroughOnException(): void;
  }
}
