// The exit codes every `jetgate` command keeps (cli/exit-codes.ts): 2 when it was asked something
// it cannot do — a bad command, option, argument or setting — and nothing was done; 1 when it ran
// and failed. Scripts and CI branch on these, so each part's commands are covered.
import { test } from "node:test";
import assert from "node:assert/strict";
import { freePort } from "../harness/ports.ts";
import { runJetgate } from "../harness/cli.ts";

const USAGE = 2;
const FAILURE = 1;

async function expectExit(code: number, args: string[], env: Record<string, string> = {}): Promise<void> {
  const run = await runJetgate(args, { env });
  assert.equal(run.code, code, `jetgate ${args.join(" ")} ${JSON.stringify(env)}: exit ${run.code}; stderr: ${run.stderr}`);
  assert.equal(run.stdout, "", `jetgate ${args.join(" ")} printed a result although it failed`);
}

test("a usage error exits 2 in every part's commands", async () => {
  const unused = `nats://127.0.0.1:${await freePort()}`;
  const cases: Array<[string[], Record<string, string>?]> = [
    [["no-such-command"]],
    [["bridge", "--port", "many"]],
    [["dlq", "purge", "--servers", unused]],
    [["dlq", "redrive", "--servers", unused]],
    [["dlq", "show", "last", "--servers", unused]],
    [["subscriptions", "attempts", "sub-1", "--limit", "-1", "--servers", unused]],
    [["subscriptions", "rotate-secret", "sub-1", "--overlap", "soon", "--servers", unused]],
    [["replay", "sub-1", "--from-time", "yesterday", "--servers", unused]],
    [["edge", "--port", "http"]],
    [["edge", "key", "--name", "app", "--subscribe", "Order.*"]],
    [["registry", "show", "order.created", "latest"]],
    [["registry", "check", "--format", "xml"]],
    [["stack", "--port-base", "5"]],
  ];
  for (const [args, env] of cases) await expectExit(USAGE, args, env);
});

test("a bad setting in the environment exits 2 before anything starts", async () => {
  const unused = `nats://127.0.0.1:${await freePort()}`;
  await expectExit(USAGE, ["bridge"], { JETGATE_BRIDGE_NATS_SERVERS: unused, JETGATE_BRIDGE_LOG_LEVEL: "loud" });
  await expectExit(USAGE, ["subscriptions", "list"], { JETGATE_BRIDGE_NATS_SERVERS: "nats://user:secret@127.0.0.1:4222" });
  await expectExit(USAGE, ["edge", "--nats", unused], { API_KEYS: "not json" });
  await expectExit(USAGE, ["edge", "--nats", unused], { MAX_EVENT_BYTES: "a lot" });
  await expectExit(USAGE, ["edge", "--nats", unused], { TOKEN_SECRET: "shorter than 32 bytes" });
  await expectExit(USAGE, ["stack"], { JETGATE_STACK_PORT_BASE: "80" });
});

test("a command that ran and failed exits 1", async () => {
  await expectExit(FAILURE, ["registry", "show", "no.such.type"]);
  await expectExit(FAILURE, ["subscriptions", "list", "--servers", `nats://127.0.0.1:${await freePort()}`]);
});
