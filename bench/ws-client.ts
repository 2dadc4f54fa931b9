// The browser side of the socket benchmarks (bench/sockets.bench.ts), in Node with `ws`: mint a
// token with an API key (POST /v1/tokens), open jetgate.v1 sockets, keep publishes in flight on
// them and time each ack, subscribe and time each event's arrival. Frames are built from text
// templates and answers read with as little parsing as the figure needs, so the load generator
// spends its share of the 2 cores on the sockets, not on JSON.
import { WebSocket } from "ws";
import * as hdr from "hdr-histogram-js";

export type Histogram = hdr.Histogram;

/** Microsecond histogram, 1 µs to 60 s, 3 significant digits. */
export function histogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

export interface LatencyFigures {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** A µs histogram's p50/p99/max in ms. */
export function figures(h: Histogram): LatencyFigures {
  return { count: h.totalCount, p50: h.getValueAtPercentile(50) / 1000, p99: h.getValueAtPercentile(99) / 1000, max: h.maxValue / 1000 };
}

/** POST /v1/tokens with `apiKey`: a browser token for an hour (the longest a token lives). */
export async function mintToken(edgeUrl: string, apiKey: string): Promise<string> {
  const res = await fetch(`${edgeUrl}/v1/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ ttl: 3600 }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { token?: string };
  if (res.status !== 201 || !body.token) throw new Error(`POST /v1/tokens answered ${res.status} ${JSON.stringify(body)}`);
  return body.token;
}

/** Opens a jetgate.v1 socket and resolves once its `ready` frame came (10 s at most). */
export function openSocket(edgeUrl: string, token: string): Promise<WebSocket> {
  const ws = new WebSocket(`${edgeUrl.replace(/^http/, "ws")}/v1/ws`, ["jetgate.v1", `jetgate.token.${token}`], { perMessageDeflate: false });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error("no ready frame within 10 s"));
    }, 10_000);
    ws.once("unexpected-response", (_req, res) => {
      clearTimeout(timer);
      reject(new Error(`GET /v1/ws answered ${res.statusCode} instead of upgrading`));
      ws.terminate();
    });
    ws.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    ws.once("message", (data) => {
      clearTimeout(timer);
      const text = data.toString();
      if (!text.startsWith('{"op":"ready"')) return reject(new Error(`the first frame was not ready: ${text.slice(0, 200)}`));
      resolve(ws);
    });
  });
}

/** Closes every socket and waits for their close (2 s at most, then terminates). */
export async function closeSockets(sockets: WebSocket[]): Promise<void> {
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          const timer = setTimeout(() => {
            ws.terminate();
            resolve();
          }, 2_000);
          ws.once("close", () => {
            clearTimeout(timer);
            resolve();
          });
          ws.close(1000, "bench done");
        }),
    ),
  );
}

/**
 * A structured CloudEvent's JSON text with a fresh id each call: the part after the id is built
 * once, so a frame costs one string concatenation.
 */
export function eventTemplate(type: string, source: string, data: unknown): (id: string) => string {
  const tail = `","source":${JSON.stringify(source)},"type":${JSON.stringify(type)},"datacontenttype":"application/json","data":${JSON.stringify(data)}}`;
  return (id) => `{"specversion":"1.0","id":"${id}${tail}`;
}

export interface PublishRun {
  /** Acks per second over the phase, all sockets together. */
  rate: number;
  acked: number;
  /** Problem frames, unexpected frames and sockets that closed early. */
  errors: number;
  firstProblem?: string;
  latency: LatencyFigures;
}

/**
 * Closed loop on every socket: `depth` publishes in flight each, the next sent as soon as an ack
 * comes, for `seconds` (and at most `maxCount` publishes in all); each ack timed from its send.
 * Event ids are `<prefix>-<socket>-<rid>`, so no publish is a duplicate of another.
 */
export async function publishLoad(
  sockets: WebSocket[],
  opts: { depth: number; seconds: number; prefix: string; event: (id: string) => string; maxCount?: number },
): Promise<PublishRun> {
  const maxCount = opts.maxCount ?? 2_000_000;
  const hist = histogram();
  let acked = 0;
  let errors = 0;
  let sent = 0;
  let firstProblem: string | undefined;
  const started = performance.now();
  const deadline = started + opts.seconds * 1000;
  await Promise.all(
    sockets.map(
      (ws, s) =>
        new Promise<void>((resolve) => {
          const sentAt = new Map<number, number>();
          let rid = 0;
          const send = () => {
            rid++;
            sent++;
            sentAt.set(rid, performance.now());
            ws.send(`{"op":"publish","rid":${rid},"event":${opts.event(`${opts.prefix}-${s}-${rid}`)}}`);
          };
          // Bounded even if an ack never comes: 15 s past the deadline, what is missing counts as errors.
          const stuck = setTimeout(() => {
            errors += sentAt.size;
            firstProblem ??= `${sentAt.size} publishes got no answer within 15 s`;
            done();
          }, opts.seconds * 1000 + 15_000);
          const done = () => {
            clearTimeout(stuck);
            ws.off("message", onMessage);
            ws.off("close", onClose);
            resolve();
          };
          const onMessage = (data: Buffer) => {
            const now = performance.now();
            const text = data.toString();
            // {"op":"ack","rid":N,…} or {"op":"problem","rid":N,…}
            const ridAt = text.indexOf('"rid":') + 6;
            const r = Number.parseInt(text.slice(ridAt, ridAt + 16), 10);
            const t0 = sentAt.get(r);
            if (t0 === undefined) {
              errors++;
              firstProblem ??= text.slice(0, 300);
            } else {
              sentAt.delete(r);
              if (text.startsWith('{"op":"ack"')) {
                acked++;
                hist.recordValue(Math.max(1, Math.round((now - t0) * 1000)));
              } else {
                errors++;
                firstProblem ??= text.slice(0, 300);
              }
            }
            if (now < deadline && sent < maxCount) send();
            else if (sentAt.size === 0) done();
          };
          const onClose = (code: number) => {
            errors += sentAt.size + 1;
            firstProblem ??= `socket closed with ${code}`;
            done();
          };
          ws.on("message", onMessage);
          ws.on("close", onClose);
          for (let i = 0; i < opts.depth; i++) send();
        }),
    ),
  );
  const elapsed = (performance.now() - started) / 1000;
  return { rate: acked / elapsed, acked, errors, firstProblem, latency: figures(hist) };
}

/** Sends a subscribe on every socket and resolves once each answered `subscribed` (10 s at most). */
export async function subscribeAll(sockets: WebSocket[], types: string): Promise<void> {
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error("no subscribed frame within 10 s")), 10_000);
          const onMessage = (data: Buffer) => {
            const text = data.toString();
            if (text.startsWith('{"op":"subscribed"')) {
              clearTimeout(timer);
              ws.off("message", onMessage);
              resolve();
            } else if (text.startsWith('{"op":"problem"')) {
              clearTimeout(timer);
              ws.off("message", onMessage);
              reject(new Error(`subscribe refused: ${text.slice(0, 300)}`));
            }
          };
          ws.on("message", onMessage);
          ws.send(JSON.stringify({ op: "subscribe", rid: "fanout", types, from: "new" }));
        }),
    ),
  );
}

/** The event id inside an `event` frame, found without parsing the frame (the first "id" after "event"). */
export function eventIdOf(frame: string): string | undefined {
  const at = frame.indexOf('"event":{');
  if (at < 0) return undefined;
  const idAt = frame.indexOf('"id":"', at);
  if (idAt < 0) return undefined;
  const start = idAt + 6;
  return frame.slice(start, frame.indexOf('"', start));
}
