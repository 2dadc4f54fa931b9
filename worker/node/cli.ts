// `jetgate edge` — serve the edge on Node (self-hosting without Cloudflare) — and
// `jetgate edge key` — make an API key and the API_KEYS entry that holds its hash.
import { InvalidArgumentError, type Command } from "commander";
import { ConfigError, DEFAULTS, NATS_SECRET_VARS, NODE_EDGE_DEFAULTS, TOKEN_SECRET_VAR } from "../config.ts";
import { DEFAULT_REGISTRY_DIR } from "./paths.ts";
import { DEV_API_KEY, devApiKeys, generateApiKey, hashApiKey, parseApiKeys, type ApiKeyEntry } from "../auth/keys.ts";

/** The same vars as wrangler.toml's [vars], the NATS login and TOKEN_SECRET, taken from the environment when set. */
function varsFromEnv(): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const name of [...Object.keys(DEFAULTS), ...NATS_SECRET_VARS, TOKEN_SECRET_VAR]) {
    const value = process.env[name];
    if (value !== undefined) vars[name] = value;
  }
  return vars;
}

/** API_KEYS from the environment; a bad value is a configuration error (exit 2), like any other var. */
function apiKeysFromEnv(): ApiKeyEntry[] {
  try {
    return parseApiKeys(process.env.API_KEYS ?? "[]");
  } catch (err) {
    throw new ConfigError([`API_KEYS: ${err instanceof Error ? err.message : String(err)}`]);
  }
}

function checkEntry(entry: ApiKeyEntry): void {
  try {
    parseApiKeys(JSON.stringify([entry]));
  } catch (err) {
    throw new ConfigError([`${err instanceof Error ? err.message : String(err)}`]);
  }
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`not a port (0..65535): ${value}`);
  return n;
}

export function registerEdgeCommands(program: Command): void {
  const edge = program
    .command("edge")
    .description("Serve the edge (POST /v1/events …) on Node; limits and CORS come from the same vars as wrangler.toml, read from the environment")
    .option("--port <port>", "HTTP port", port, NODE_EDGE_DEFAULTS.port)
    .option("--host <host>", "address to listen on", NODE_EDGE_DEFAULTS.host)
    .option("--nats <urls>", "comma-separated nats:// URLs of the cluster", process.env.NATS_URLS ?? NODE_EDGE_DEFAULTS.natsUrls)
    .option("--registry <dir>", "built registry (jetgate registry build --out DIR)", DEFAULT_REGISTRY_DIR)
    .option("--dev-key", `accept the fixed development key ${DEV_API_KEY} (never in production)`, false)
    .addHelpText(
      "after",
      `\nAPI keys: set API_KEYS to a JSON array of {name, sha256, types, subscribe?}; \`jetgate edge key\` makes one.\nBrowser tokens (POST /v1/tokens): set ${TOKEN_SECRET_VAR} to a secret of at least 32 bytes.`,
    )
    .action(async (opts: { port: number; host: string; nats: string; registry: string; devKey: boolean }) => {
      const apiKeys = [...apiKeysFromEnv(), ...(opts.devKey ? await devApiKeys() : [])];
      if (apiKeys.length === 0) console.error("warning: no API keys configured (API_KEYS or --dev-key); every POST will be 401");
      const { startNodeEdge } = await import("./entry.ts");
      const running = await startNodeEdge({
        port: opts.port,
        host: opts.host,
        natsServers: opts.nats.split(",").map((s) => s.trim()).filter(Boolean),
        registryDir: opts.registry,
        apiKeys,
        vars: varsFromEnv(),
      });
      console.error(`jetgate edge listening on ${running.url}`);
      if (opts.devKey) {
        console.error(
          `try: curl -i ${running.url}/v1/events/order.created -H 'authorization: Bearer ${DEV_API_KEY}' -H 'content-type: application/json' -d '{"orderId":"o-1001","customer":{"id":"c-1","email":"a@example.com"},"total":{"amount":"19.99","currency":"EUR"}}'`,
        );
      }
      await new Promise<void>((resolve) => {
        const stop = () => void running.stop().finally(resolve);
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
    });

  edge
    .command("key")
    .description("Make a new API key and print the API_KEYS entry holding its SHA-256")
    .requiredOption("--name <name>", "who holds the key (becomes `source` on POST /v1/events/{type})")
    .option("--types <globs>", "comma-separated event type globs it may publish (* within a segment, ** across)", "**")
    .option("--subscribe <globs>", "comma-separated event type globs its browser tokens may subscribe to (default: none)")
    .action(async (opts: { name: string; types: string; subscribe?: string }) => {
      const key = generateApiKey();
      const globs = (list: string) => list.split(",").map((s) => s.trim());
      const entry: ApiKeyEntry = { name: opts.name, sha256: await hashApiKey(key), types: globs(opts.types) };
      if (opts.subscribe !== undefined) entry.subscribe = globs(opts.subscribe);
      // The entry is checked as the edge will read it: a bad glob fails here (exit 2), not at the edge's start.
      checkEntry(entry);
      console.log(`key (give it to the client; it is not stored): ${key}`);
      console.log(`API_KEYS entry: ${JSON.stringify(entry)}`);
    });
}
