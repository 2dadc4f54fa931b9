// Runtime parity: the same generated requests (fast-check, fixed seed) go to the edge in workerd
// and on Node, and each must get the same status and the same problem type (for batches, the same
// per-event results). A difference is a bug in one runtime's product code, fixed there.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import fc from "fast-check";
import { caseSpec, describeCase, toWire } from "./arbitraries.ts";
import { sendWire, type WireAnswer } from "./wire.ts";
import { assertStreamHoldsOnlyAccepted, noteAccepted, type AcceptedIds } from "./stream-check.ts";
import { bearer, KEYS } from "./helpers.ts";
import { startSuite, type Suite } from "./suite.ts";

const SEED = Number(process.env.JETGATE_PARITY_SEED ?? 20261129);
const CASES = Number(process.env.JETGATE_PARITY_CASES ?? 300);

let suite: Suite;
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
const accepted: AcceptedIds = new Set();
before(async () => {
  suite = await startSuite({ nodes: 1 });
});
after(async () => {
  agent.destroy();
  await suite?.stop();
});

/** What must agree: status, problem type, and per-event status and type in a batch answer. */
function signature(answer: WireAnswer): string {
  if (answer.networkError) return `network error ${answer.networkError}`;
  let parsed: any;
  try {
    parsed = JSON.parse(answer.body);
  } catch {
    return `${answer.status} (not JSON)`;
  }
  const results = Array.isArray(parsed?.results)
    ? " [" + parsed.results.map((r: any) => `${r.status} ${r.problem?.type ?? ""}`.trim()).join(", ") + "]"
    : "";
  return `${answer.status} ${parsed?.type ?? ""}${results}`.trim();
}

test("an empty Content-Type header is treated as absent by both runtimes, as workerd's HTTP layer drops it", async () => {
  const answers = new Map<string, WireAnswer>();
  for (const [runtime, edge] of suite.edges) {
    const id = `${runtime}-empty-ct`;
    const body = Buffer.from(JSON.stringify({ orderId: id, customer: { id: "c", email: "a@b.c" }, total: { amount: "1.00", currency: "EUR" } }));
    const answer = await sendWire(edge.url, { method: "POST", target: "/v1/events/order.created", headers: [["content-type", ""], ["idempotency-key", id], ...Object.entries(bearer(KEYS.full))], body, ids: [id] }, agent);
    noteAccepted(accepted, answer);
    answers.set(runtime, answer);
  }
  for (const [runtime, answer] of answers) assert.equal(answer.status, 202, `${runtime}: ${answer.status} ${answer.body}`);
});

test(`the same ${CASES} generated requests get the same status and problem type from workerd and Node`, async () => {
  console.log(`parity: seed ${SEED}, ${CASES} cases (JETGATE_PARITY_SEED, JETGATE_PARITY_CASES)`);
  // Raw request heads are parsed by each runtime's HTTP server before the app sees them: the fuzz
  // suite checks those for safety; parity is about the app.
  const specs = fc.sample(caseSpec.filter((s) => s.route !== "raw"), { seed: SEED, numRuns: CASES });
  const differences: string[] = [];
  const byStatus = new Map<string, number>();
  for (const [i, spec] of specs.entries()) {
    const got = new Map<string, string>();
    for (const [runtime, edge] of suite.edges) {
      const wire = toWire(spec, `${runtime}-p${i}`);
      const answer = await sendWire(edge.url, wire, agent);
      noteAccepted(accepted, answer);
      got.set(runtime, signature(answer));
    }
    const [workerd, node] = [got.get("workerd"), got.get("node")];
    byStatus.set(workerd!.split(" ")[0]!, (byStatus.get(workerd!.split(" ")[0]!) ?? 0) + 1);
    if (workerd !== node) differences.push(`#${i} workerd: ${workerd} | node: ${node} | ${describeCase(spec)}`);
  }
  console.log(`parity: answers by status ${JSON.stringify(Object.fromEntries([...byStatus].sort()))}; ${differences.length} differences`);
  assert.deepEqual(differences, [], `requests answered differently (seed ${SEED})`);
});

test("the stream holds only events that got a 202, each once", async () => {
  await assertStreamHoldsOnlyAccepted(await suite.broker.connect(), accepted);
});
