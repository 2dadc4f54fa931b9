// The subscribers of a fault run: one healthy, and three hostile ones — one that fails (500) at
// random, one that hangs past the bridge's HTTP timeout now and then, one that answers 429/503
// with Retry-After during recurring windows. Each remembers which events it answered with a 2xx
// (the only answer that counts as delivered) and every webhook-id an event came with.
import { startReceiver, type Receiver, type ScriptedResponse } from "../harness/receiver.ts";
import { eventKey } from "./ledger.ts";

export type Behaviour = "healthy" | "failing" | "hanging" | "throttling";

export interface FaultReceiver {
  behaviour: Behaviour;
  receiver: Receiver;
  /** Event key → how many 2xx answers it got. */
  delivered: Map<string, number>;
  /** Event key → the webhook-ids it arrived with (one, if the bridge keeps it stable). */
  webhookIds: Map<string, Set<string>>;
  requests(): number;
  /** Bodies that were not a structured CloudEvent (should stay 0). */
  unreadable: number;
}

export interface ReceiverTuning {
  /** The subscription's HTTP timeout: a hang lasts well past it. */
  timeoutMs: number;
  /** Share of requests the failing receiver answers 500 (and the hanging one holds). */
  failShare: number;
  /** The throttling receiver refuses during the first `throttleMs` of every `throttleEveryMs`. */
  throttleMs: number;
  throttleEveryMs: number;
}

function decide(behaviour: Behaviour, t: ReceiverTuning, random: () => number): ScriptedResponse {
  switch (behaviour) {
    case "healthy":
      return { status: 200 };
    case "failing":
      return random() < t.failShare ? { status: 500, body: "injected failure" } : { status: 200 };
    case "hanging":
      return random() < t.failShare ? { status: 200, delayMs: t.timeoutMs * 4 } : { status: 200 };
    case "throttling": {
      if (Date.now() % t.throttleEveryMs >= t.throttleMs) return { status: 200 };
      const status = random() < 0.5 ? 429 : 503;
      return { status, headers: { "retry-after": "1" }, body: "slow down" };
    }
  }
}

export async function startFaultReceiver(behaviour: Behaviour, tuning: ReceiverTuning, random: () => number = Math.random): Promise<FaultReceiver> {
  const out: FaultReceiver = {
    behaviour,
    receiver: undefined as unknown as Receiver,
    delivered: new Map(),
    webhookIds: new Map(),
    requests: () => count,
    unreadable: 0,
  };
  let count = 0;
  out.receiver = await startReceiver({
    record: false,
    script: (req) => {
      count++;
      let key: string;
      try {
        const event = JSON.parse(req.body) as { id?: unknown; source?: unknown };
        if (typeof event.id !== "string" || typeof event.source !== "string") throw new TypeError("not a CloudEvent");
        key = eventKey(event.source, event.id);
      } catch {
        out.unreadable++;
        return { status: 400 };
      }
      const ids = out.webhookIds.get(key) ?? new Set<string>();
      ids.add(req.headers["webhook-id"] ?? "");
      out.webhookIds.set(key, ids);
      const reply = decide(behaviour, tuning, random);
      // A held answer never reaches the bridge (it gives up first), so it is not a delivery.
      if (reply.status < 300 && !reply.delayMs) out.delivered.set(key, (out.delivered.get(key) ?? 0) + 1);
      return reply;
    },
  });
  return out;
}
