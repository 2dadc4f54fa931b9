// The admin API's problem types (RFC 9457) come from one catalogue, bridge/admin/problems.ts: each
// code has its status, a human title and a type URI under the bridge's own base, so a client never
// meets one type URI with two titles (the edge's catalogue is worker/http/problems.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_PROBLEMS, PROBLEM_BASE, problemType, type AdminProblemCode } from "../../bridge/admin/problems.ts";
import { PROBLEM_KINDS, problemType as edgeProblemType, type ProblemKind } from "../../worker/http/problems.ts";
import { startTestBroker } from "../harness/nats.ts";
import { startTestBridge } from "./helpers.ts";
import { AdminExchanges } from "./admin-exchanges.ts";

const CODES = Object.keys(ADMIN_PROBLEMS) as AdminProblemCode[];
/** Every admin exchange of this suite, checked against the OpenAPI document by the last test. */
const exchanges = new AdminExchanges();

test("every admin problem code has its own type URI under the bridge's base, a human title, and no edge type", () => {
  assert.equal(PROBLEM_BASE, "https://jetgate.dev/problems/bridge/");
  const edgeTypes = new Set((Object.keys(PROBLEM_KINDS) as ProblemKind[]).map(edgeProblemType));
  const types = new Set<string>();
  for (const code of CODES) {
    const type = problemType(code);
    assert.equal(type, PROBLEM_BASE + code.toLowerCase().replaceAll("_", "-"), code);
    assert.ok(!edgeTypes.has(type), `${type} is an edge type too`);
    assert.ok(!types.has(type), `${type} twice`);
    types.add(type);
    const { status, title } = ADMIN_PROBLEMS[code];
    assert.ok(status >= 400 && status <= 599, `${code}: status ${status}`);
    assert.ok(title.length > 0 && title !== code, `${code}: a title for people, not the code`);
  }
});

test("the admin API answers each refusal with its catalogue entry: type, title, status and code", async (t) => {
  const broker = await startTestBroker({ nodes: 1 });
  t.after(() => broker.stop());
  const bridge = await startTestBridge(broker);
  t.after(() => bridge.stop());
  const cases: Array<[string, string, AdminProblemCode]> = [
    ["/v1/subscriptions", "wrong-token", "UNAUTHORIZED"],
    ["/v1/subscriptions/nobody", "test-admin-token", "SUBSCRIPTION_NOT_FOUND"],
    ["/v1/dlq/424242", "test-admin-token", "DLQ_NOT_FOUND"],
    ["/v1/dlq?limit=-1", "test-admin-token", "REQUEST_INVALID"],
    ["/v1/no-such-route", "test-admin-token", "NOT_FOUND"],
  ];
  for (const [path, token, code] of cases) {
    const res = await exchanges.fetch(`${bridge.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.headers.get("content-type"), "application/problem+json", path);
    const problem = (await res.json()) as Record<string, unknown>;
    const { status, title } = ADMIN_PROBLEMS[code];
    assert.deepEqual(
      { status: res.status, type: problem.type, title: problem.title, body: problem.status, code: problem.code },
      { status, type: problemType(code), title, body: status, code },
      path,
    );
    assert.equal(typeof problem.detail, "string", path);
  }
});

test("every answer of this suite matches the OpenAPI document, its problem types included", () => {
  assert.equal(exchanges.assertMatchOpenApi(), 5);
});
