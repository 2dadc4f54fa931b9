// The edge's defaults are named once, in worker/config.ts: wrangler.toml declares only what has no
// default (and restates no default with another value, or the workerd tests, which run with its
// vars, and the Node edge, which runs without them, would test two configurations), and the
// `jetgate edge` command takes its port, host and brokers from NODE_EDGE_DEFAULTS.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Command } from "commander";
import { unstable_readConfig } from "wrangler";
import { DEFAULTS, NODE_EDGE_DEFAULTS, parseConfig, registerEdgeCommands } from "../../worker/index.ts";
import { WRANGLER_TOML } from "../../worker/node/paths.ts";

/** Vars the Worker reads that have no default: the brokers' websocket URLs. */
const REQUIRED_VARS = ["NATS_WS_URLS"];

test("wrangler.toml sets only vars the edge reads, and no default with another value", () => {
  const vars = (unstable_readConfig({ config: WRANGLER_TOML }) as { vars: Record<string, unknown> }).vars;
  for (const name of REQUIRED_VARS) assert.equal(typeof vars[name], "string", `wrangler.toml declares ${name}`);
  for (const [name, value] of Object.entries(vars)) {
    assert.ok(name in DEFAULTS || REQUIRED_VARS.includes(name), `wrangler.toml sets ${name}, which the edge does not read`);
    if (name in DEFAULTS) assert.equal(value, String(DEFAULTS[name as keyof typeof DEFAULTS]), `wrangler.toml restates ${name} with a value other than worker/config.ts's default`);
  }
  // What workerd runs with is what the Node edge gets from the same vars: the defaults.
  const fromToml = parseConfig(vars as Record<string, string>, "NATS_WS_URLS");
  const fromDefaults = parseConfig({ NATS_WS_URLS: String(vars.NATS_WS_URLS) }, "NATS_WS_URLS");
  assert.deepEqual(fromToml, fromDefaults);
});

test("jetgate edge listens and connects where NODE_EDGE_DEFAULTS says unless told otherwise", (t) => {
  const saved = process.env.NATS_URLS;
  delete process.env.NATS_URLS;
  t.after(() => {
    if (saved !== undefined) process.env.NATS_URLS = saved;
  });
  const program = new Command();
  registerEdgeCommands(program);
  const edge = program.commands.find((c) => c.name() === "edge")!;
  const defaultOf = (flag: string) => edge.options.find((o) => o.long === flag)?.defaultValue;
  assert.equal(defaultOf("--port"), NODE_EDGE_DEFAULTS.port);
  assert.equal(defaultOf("--host"), NODE_EDGE_DEFAULTS.host);
  assert.equal(defaultOf("--nats"), NODE_EDGE_DEFAULTS.natsUrls);
});
