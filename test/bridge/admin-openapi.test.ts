// The admin API's OpenAPI document (bridge/admin/openapi.ts) is a valid OpenAPI 3.1 description of
// exactly the routes there are: every schema in it compiles under ajv's 2020-12 strict mode, every
// reference resolves, each path template's parameters are declared, and its operations are the
// Hono app's routes and the test route lists (ADMIN_ROUTES behind the token, PUBLIC_ROUTES without),
// no more and no fewer. That real answers match it is checked by the admin suites themselves
// (admin.test.ts, admin-auth.test.ts, admin-problems.test.ts, through admin-exchanges.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { adminApp, type AdminDeps } from "../../bridge/admin/api.ts";
import { adminOpenApi, OPENAPI_PATH } from "../../bridge/admin/openapi.ts";
import { ADMIN_PROBLEMS, problemType, type AdminProblemCode } from "../../bridge/admin/problems.ts";
import { parseSubscription } from "../../bridge/subscriptions/model.ts";
import { documentAjv, HTTP_METHODS, type OpenApiDocument } from "../harness/openapi-check.ts";
import { ADMIN_ROUTES, PUBLIC_ROUTES } from "./admin-routes.ts";

const doc = adminOpenApi as unknown as OpenApiDocument & {
  openapi: string;
  security: unknown[];
  tags: Array<{ name: string }>;
  components: { securitySchemes: Record<string, unknown> };
};

type Operation = { operationId: string; tags?: string[]; security?: unknown[]; parameters?: Param[]; requestBody?: { content: Record<string, { schema: object }> }; responses: Record<string, { content?: Record<string, { schema?: object }>; headers?: Record<string, { schema: object }> }> };
type Param = { name: string; in: string; required?: boolean; schema: object };

function operations(): Array<{ path: string; method: string; op: Operation; params: Param[] }> {
  const out = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of HTTP_METHODS) {
      const op = item[method] as Operation | undefined;
      if (op) out.push({ path, method: method.toUpperCase(), op, params: [...((item.parameters as Param[] | undefined) ?? []), ...(op.parameters ?? [])] });
    }
  }
  return out;
}

/** `/v1/subscriptions/:id` and `/v1/subscriptions/{event}` → `/v1/subscriptions/{}`; a query is not part of the route. */
const shape = (method: string, path: string) => `${method} ${path.split("?")[0]!.replace(/:[A-Za-z]+|\{[^}]+\}/g, "{}")}`;

test("the admin OpenAPI document is OpenAPI 3.1 whose every schema compiles under ajv 2020-12 strict mode", () => {
  assert.equal(doc.openapi, "3.1.0");
  const { compile } = documentAjv(doc, true);
  for (const name of Object.keys(doc.components.schemas)) assert.doesNotThrow(() => compile({ $ref: `#/components/schemas/${name}` }), name);
  const ids = new Set<string>();
  const tags = new Set(doc.tags.map((t) => t.name));
  let schemas = 0;
  for (const { path, method, op, params } of operations()) {
    const where = `${method} ${path}`;
    assert.ok(op.operationId && !ids.has(op.operationId), `${where}: a unique operationId`);
    ids.add(op.operationId);
    for (const tag of op.tags ?? []) assert.ok(tags.has(tag), `${where}: tag ${tag} is declared`);
    for (const requirement of (op.security ?? doc.security) as Array<Record<string, unknown>>) {
      for (const scheme of Object.keys(requirement)) assert.ok(doc.components.securitySchemes[scheme], `${where}: security scheme ${scheme}`);
    }
    // OpenAPI 3.1 §4.8.12: each template expression is a required path parameter, and only those are.
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!).sort();
    const declared = params.filter((p) => p.in === "path");
    assert.deepEqual(declared.map((p) => p.name).sort(), templated, `${where}: path parameters`);
    for (const p of declared) assert.equal(p.required, true, `${where}: path parameter ${p.name} is required`);
    const inline = [
      ...params.map((p) => p.schema),
      ...Object.values(op.requestBody?.content ?? {}).map((c) => c.schema),
      ...Object.values(op.responses).flatMap((r) => [...Object.values(r.content ?? {}).map((c) => c.schema), ...Object.values(r.headers ?? {}).map((h) => h.schema)]),
    ].filter((s): s is object => s !== undefined);
    for (const schema of inline) {
      assert.doesNotThrow(() => compile(schema), `${where}: ${JSON.stringify(schema).slice(0, 200)}`);
      schemas++;
    }
    assert.ok(Object.keys(op.responses).some((s) => /^2\d\d$/.test(s)), `${where}: a success response`);
    for (const status of Object.keys(op.responses)) assert.match(status, /^[1-5]\d\d$/, `${where}: status ${status}`);
  }
  assert.ok(schemas > 50, `checked ${schemas} inline schemas`);
});

test("the document's operations are the admin app's routes, no more and no fewer, and only the public ones need no token", () => {
  // The routes table needs none of the dependencies: handlers read them only when called.
  const app = adminApp({ config: {} } as unknown as AdminDeps);
  const routes = new Set(app.routes.filter((r) => r.method !== "ALL").map((r) => shape(r.method, r.path)));
  const documented = new Set(operations().map(({ method, path }) => shape(method, path)));
  assert.deepEqual([...documented].sort(), [...routes].sort(), "documented operations = Hono routes");
  const listed = [...ADMIN_ROUTES, ...PUBLIC_ROUTES].map((r) => shape(r.method, r.path));
  assert.equal(new Set(listed).size, listed.length, "each route listed once");
  assert.deepEqual([...listed].sort(), [...routes].sort(), "ADMIN_ROUTES and PUBLIC_ROUTES = Hono routes");
  const open = operations().filter(({ op }) => Array.isArray(op.security) && op.security.length === 0);
  assert.deepEqual(open.map(({ method, path }) => shape(method, path)).sort(), PUBLIC_ROUTES.map((r) => shape(r.method, r.path)).sort(), "security: [] exactly on the public routes");
  assert.ok(PUBLIC_ROUTES.some((r) => r.path === OPENAPI_PATH));
});

test("the document is served without the token, as the module holds it", async () => {
  const app = adminApp({ config: { adminToken: "set" } } as unknown as AdminDeps);
  const res = await app.request(OPENAPI_PATH);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  assert.deepEqual(await res.json(), JSON.parse(JSON.stringify(adminOpenApi)));
});

test("the Problem schema lists every problem type of the catalogue with its code, title and status", () => {
  const { compile } = documentAjv(doc, true);
  const validate = compile({ $ref: "#/components/schemas/Problem" });
  for (const code of Object.keys(ADMIN_PROBLEMS) as AdminProblemCode[]) {
    const { status, title } = ADMIN_PROBLEMS[code];
    const problem = { type: problemType(code), title, status, detail: "d", code };
    assert.ok(validate(problem), `${code}: ${JSON.stringify(validate.errors)}`);
    assert.ok(!validate({ ...problem, title: "another title" }), `${code}: the title is fixed`);
    assert.ok(!validate({ ...problem, status: status === 400 ? 404 : 400 }), `${code}: the status is fixed`);
  }
  assert.ok(!validate({ type: "https://jetgate.dev/problems/bridge/made-up", title: "x", status: 400, detail: "d", code: "MADE_UP" }), "no type outside the catalogue");
});

test("a subscription the model accepts is one the document accepts, and the model's answer is the document's Subscription", () => {
  // The document states the model's limits; a few inputs at the edges agree both ways.
  const { compile } = documentAjv(doc, true);
  const create = compile({ $ref: "#/components/schemas/SubscriptionCreate" });
  const stored = compile({ $ref: "#/components/schemas/Subscription" });
  const inputs: Array<Record<string, unknown>> = [
    { id: "a", url: "https://example.com/hook" },
    { id: "order-sub_1", url: "https://example.com/hook", types: ["order.*", "payment.settled", "order.created@1"], where: "data.total.amount > 100", rateLimit: 5.5 },
    { id: "x".repeat(64), url: "https://example.com/", filter: "events.order.>", retry: { schedule: ["5s", 100, "1.5h"], jitter: 0 }, timeout: "1s", ackWait: 20_000, maxConcurrency: 10_000, startAt: { sequence: 3 } },
    { id: "t", url: "https://example.com/", ordered: true, format: "binary", startAt: { time: "2026-01-01T00:00:00Z" }, metadata: { team: "a" }, enabled: false },
  ];
  for (const input of inputs) {
    const parsed = parseSubscription(input);
    assert.ok(parsed.ok, JSON.stringify(parsed));
    assert.ok(create(input), `${JSON.stringify(input)}: ${JSON.stringify(create.errors)}`);
    // What GET answers: redacted secrets (routes-subscriptions.ts redact()).
    const answer = JSON.parse(JSON.stringify({ ...parsed.value, secrets: parsed.value.secrets.map((s) => ({ secret: `${s.secret.slice(0, 10)}…` })) }));
    assert.ok(stored(answer), `${JSON.stringify(answer)}: ${JSON.stringify(stored.errors)}`);
  }
  const refused: Array<Record<string, unknown>> = [
    { id: "x".repeat(65), url: "https://example.com/" },
    { id: "-a", url: "https://example.com/" },
    { id: "a", url: "https://example.com/", types: ["order.*"], filter: "events.>" },
    { id: "a", url: "https://example.com/", types: [] },
    { id: "a", url: "https://example.com/", types: Array(65).fill("order.*") },
    { id: "a", url: "https://example.com/", where: "x".repeat(4097) },
    { id: "a", url: "https://example.com/", maxConcurrency: 10_001 },
    { id: "a", url: "https://example.com/", rateLimit: 0 },
    { id: "a", url: "https://example.com/", retry: { schedule: Array(101).fill("1s") } },
    { id: "a", url: "https://example.com/", timeout: "5 minutes" },
    { id: "a", url: "https://example.com/", format: "xml" },
  ];
  for (const input of refused) {
    assert.equal(parseSubscription(input).ok, false, `the model refuses ${JSON.stringify(input).slice(0, 120)}`);
    assert.equal(create(input), false, `the document refuses ${JSON.stringify(input).slice(0, 120)}`);
  }
});
