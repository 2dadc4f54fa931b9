// Fuzzing the edge over HTTP on both runtimes (fast-check, fixed seed, printed): malformed and
// truncated JSON, wrong/empty/missing content types, huge and deeply nested bodies, raw request
// heads with bad encodings, unicode edge cases, hostile type names and schema versions, bad keys.
// Whatever comes in: no crash, no 5xx, no reset connection, every refusal a well-formed
// problem+json, and nothing from a refused request in the EVENTS stream.
// `npm test` runs JETGATE_FUZZ_RUNS (default 1500) cases per runtime; `npm run test:fuzz` 10,000.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import fc from "fast-check";
import { caseSpec, describeCase, toWire, type CaseSpec } from "./arbitraries.ts";
import { sendWire, type WireAnswer } from "./wire.ts";
import { assertStreamHoldsOnlyAccepted, noteAccepted, type AcceptedIds } from "./stream-check.ts";
import { startSuite, type Suite } from "./suite.ts";
import { EDGE_RUNTIMES } from "../harness/worker.ts";

const SEED = Number(process.env.JETGATE_FUZZ_SEED ?? 424242);
const RUNS = Number(process.env.JETGATE_FUZZ_RUNS ?? 1500);
/** Requests in flight at once: connection reuse under concurrency is where early closes showed. */
const IN_FLIGHT = 4;
const PROBLEM_BASE = "https://jetgate.dev/problems/";

let suite: Suite;
const accepted: AcceptedIds = new Set();
before(async () => {
  suite = await startSuite({ nodes: 1 });
});
after(async () => {
  await suite?.stop();
});

/** What is wrong with a refusal's body, or null when it is a well-formed problem+json. */
export function problemFault(status: number, contentType: string, body: string): string | null {
  if (contentType !== "application/problem+json") return `content-type "${contentType}"`;
  let p: any;
  try {
    p = JSON.parse(body);
  } catch {
    return "body is not JSON";
  }
  return problemObjectFault(p, status);
}

function problemObjectFault(p: any, status: number): string | null {
  if (typeof p !== "object" || p === null) return "problem is not an object";
  if (typeof p.type !== "string" || !p.type.startsWith(PROBLEM_BASE)) return `type ${JSON.stringify(p.type)}`;
  if (typeof p.title !== "string" || p.title === "") return "no title";
  if (p.status !== status) return `status member ${p.status} ≠ ${status}`;
  if (typeof p.detail !== "string") return "no detail";
  if (p.type === PROBLEM_BASE + "schema-validation") {
    if (!Array.isArray(p.errors) || p.errors.length === 0) return "schema-validation without errors";
    if (p.errors.some((e: any) => typeof e?.instancePath !== "string")) return "an error without instancePath";
  }
  return null;
}

/** Batch answers carry a problem per refused event: each must be well-formed too. */
function resultsFault(body: string): string | null {
  let parsed: any;
  try {
    parsed = JSON.parse(body);
  } catch {
    return null;
  }
  if (!Array.isArray(parsed?.results)) return null;
  for (const r of parsed.results) {
    if (r.status === 202) continue;
    const fault = problemObjectFault(r.problem, r.status);
    if (fault) return `batch result: ${fault}`;
  }
  return null;
}

/**
 * Request heads that local workerd's own HTTP server (kj, in front of the Worker) refuses before
 * any Worker code runs: an invalid or doubled Content-Length is a bare 500, a header line without
 * a colon or a NUL in the path a text/plain 400. On Cloudflare the front end parses HTTP and no
 * Worker sees these (docs/producers.md, "Refusals, bodies and connections"); they are counted
 * and printed, not failed.
 */
const WORKERD_FRONT_DOOR = new Set(["bad-content-length", "two-content-lengths", "no-colon", "nul-in-path"]);

function isWorkerdFrontDoor(runtime: string, spec: CaseSpec, answer: WireAnswer): boolean {
  if (runtime !== "workerd" || spec.route !== "raw" || !WORKERD_FRONT_DOOR.has(spec.rawKind)) return false;
  return (answer.status === 500 && answer.body === "Internal Server Error") || (answer.status === 400 && answer.body.startsWith("ERROR: "));
}

interface Tally {
  frontDoor: number;
  cases: number;
  byStatus: Map<number, number>;
  crashes: number;
  fiveXx: number;
  resets: number;
  faults: string[];
}

function judge(tally: Tally, runtime: string, spec: CaseSpec, answer: WireAnswer): void {
  tally.cases++;
  if (isWorkerdFrontDoor(runtime, spec, answer)) {
    tally.frontDoor++;
    return;
  }
  const where = () => describeCase(spec);
  if (answer.networkError) {
    if (answer.networkError === "ECONNREFUSED") tally.crashes++;
    else tally.resets++;
    tally.faults.push(`network error ${answer.networkError} (status ${answer.status}): ${where()}`);
    return;
  }
  tally.byStatus.set(answer.status, (tally.byStatus.get(answer.status) ?? 0) + 1);
  if (answer.status >= 500) {
    tally.fiveXx++;
    tally.faults.push(`${answer.status} ${answer.body.slice(0, 200)}: ${where()}`);
    return;
  }
  if (answer.status >= 400) {
    const fault = problemFault(answer.status, answer.contentType, answer.body);
    if (fault) tally.faults.push(`${answer.status} not a problem (${fault}) ${answer.body.slice(0, 120)}: ${where()}`);
  }
  const fault = resultsFault(answer.body);
  if (fault) tally.faults.push(`${answer.status} ${fault}: ${where()}`);
}

for (const runtime of EDGE_RUNTIMES) {
  describe(`fuzzing the edge on ${runtime}`, () => {
    test(`${RUNS} generated requests: no crash, no 5xx, no reset, every refusal a problem+json`, async () => {
      const edge = suite.edges.get(runtime)!;
      const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
      const tally: Tally = { frontDoor: 0, cases: 0, byStatus: new Map(), crashes: 0, fiveXx: 0, resets: 0, faults: [] };
      try {
        const specs = fc.sample(caseSpec, { seed: SEED, numRuns: RUNS });
        let next = 0;
        const worker = async () => {
          while (next < specs.length) {
            const i = next++;
            const spec = specs[i]!;
            const wire = toWire(spec, `${runtime}-f${i}`);
            const answer = await sendWire(edge.url, wire, agent);
            if (answer.status === 202) noteAccepted(accepted, answer);
            judge(tally, runtime, spec, answer);
          }
        };
        await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
        const alive = await fetch(edge.url + "/livez", { signal: AbortSignal.timeout(10_000) }).then((r) => r.status, () => 0);
        if (alive !== 200) tally.crashes++;
      } finally {
        agent.destroy();
      }
      const statuses = Object.fromEntries([...tally.byStatus].sort((a, b) => a[0] - b[0]));
      console.log(
        `fuzz ${runtime}: seed ${SEED}, ${tally.cases} cases, answers by status ${JSON.stringify(statuses)}, ` +
          `crashes ${tally.crashes}, 5xx ${tally.fiveXx}, resets ${tally.resets}, malformed refusals ${tally.faults.length - tally.fiveXx - tally.resets - tally.crashes}` +
          (runtime === "workerd" ? `, refused by local workerd's HTTP server before the Worker ${tally.frontDoor}` : ""),
      );
      assert.deepEqual(tally.faults.slice(0, 15), [], `${tally.faults.length} faults on ${runtime} (seed ${SEED})`);
    });
  });
}

test("no event from a refused request is in the stream; every accepted one is, once", async () => {
  const { inStream } = await assertStreamHoldsOnlyAccepted(await suite.broker.connect(), accepted);
  console.log(`fuzz: ${accepted.size} events accepted, ${inStream} in the stream`);
});
