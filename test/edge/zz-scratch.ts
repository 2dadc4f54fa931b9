import WebSocket from "ws";
import { startTestBroker } from "../harness/nats.ts";
import { startTestEdge } from "../harness/worker.ts";
import { writeTestRegistry, VALID_ORDER_V2 } from "./fixtures.ts";
import { hashApiKey } from "../../worker/auth/keys.ts";

const runtime = (process.argv[2] ?? "node") as "node" | "workerd";
const broker = await startTestBroker({ nodes: 1 });
const apiKeys = [{ name: "app", sha256: await hashApiKey("jg_test_scratch_key_1234"), types: ["**"], subscribe: ["order.*"] }];
const edge = await startTestEdge({ runtime, broker, registryDir: writeTestRegistry(), apiKeys, vars: { TOKEN_SECRET: "x".repeat(40), LOG_REQUESTS: "true" }, onOutput: (l) => console.log("[edge]", l) });
try {
  const tok = await (await fetch(edge.url + "/v1/tokens", { method: "POST", headers: { authorization: "Bearer jg_test_scratch_key_1234" } })).json();
  console.log("token", tok.expiresAt);
  const r = await fetch(edge.url + "/v1/ws");
  console.log("plain GET", r.status, await r.text());
  const ws = new WebSocket(edge.url.replace("http", "ws") + "/v1/ws", ["jetgate.v1", tok.protocol]);
  ws.on("message", (m) => console.log("<", m.toString().slice(0, 300)));
  ws.on("close", (c, r) => console.log("close", c, r.toString()));
  ws.on("unexpected-response", (req, res) => { let b=""; res.on("data", d=>b+=d); res.on("end", ()=>console.log("refused", res.statusCode, b)); });
  await new Promise((res, rej) => { ws.once("open", res); ws.once("error", rej); });
  console.log("protocol", ws.protocol);
  ws.send(JSON.stringify({ op: "subscribe", rid: "s1", types: "order.*", from: 1 }));
  ws.send(JSON.stringify({ op: "publish", rid: "p1", event: { specversion: "1.0", id: "e1", source: "/t", type: "order.created", data: VALID_ORDER_V2 } }));
  ws.send(JSON.stringify({ op: "publish", rid: "p2", event: { specversion: "1.0", id: "e2", source: "/t", type: "order.created", data: { x: 1 } } }));
  ws.send("not json");
  ws.send(JSON.stringify({ op: "ping", rid: 7 }));
  await new Promise((r) => setTimeout(r, 1500));
  ws.send(JSON.stringify({ op: "publish", rid: "p3", event: { specversion: "1.0", id: "e3", source: "/t", type: "order.created", data: VALID_ORDER_V2 } }));
  await new Promise((r) => setTimeout(r, 1000));
  ws.send("x".repeat(2 * 1024 * 1024));
  await new Promise((r) => setTimeout(r, 1000));
  console.log(await (await fetch(edge.url + "/metrics")).text().catch(() => "no metrics"));
} finally {
  await edge.stop();
  await broker.stop();
}
