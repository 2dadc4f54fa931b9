// `jetgate stack` (= `npm start`): the options, checked before anything starts. The stack itself
// (scripts/stack.ts) runs the edge in workerd through Miniflare and esbuild, devDependencies, so it
// is loaded only when the command runs: the other commands work after `npm ci --omit=dev`.
import { InvalidArgumentError, type Command } from "commander";
import { DEFAULT_DATA_DIR, PORT_BASE_ENV, stackPorts, type StackPorts } from "./stack-settings.ts";

/** `--port-base` or JETGATE_STACK_PORT_BASE as the stack's ports; RangeError names what is wrong. */
function portsFrom(raw: string | undefined): StackPorts {
  return stackPorts(raw === undefined || raw === "" ? undefined : Number(raw));
}

function portBaseOption(raw: string): string {
  try {
    portsFrom(raw);
  } catch (err) {
    if (err instanceof RangeError) throw new InvalidArgumentError(err.message);
    throw err;
  }
  return raw;
}

/** scripts/stack.ts, or a message saying what is missing when the devDependencies are not installed. */
async function loadStack(): Promise<typeof import("./stack.ts")> {
  try {
    return await import("./stack.ts");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ERR_MODULE_NOT_FOUND") throw err;
    throw new Error(`jetgate stack needs the devDependencies (esbuild, miniflare, wrangler): run npm ci without --omit=dev (${(err as Error).message})`, { cause: err });
  }
}

export function registerStackCommands(program: Command): void {
  program
    .command("stack")
    .description("run the whole local stack in the foreground (npm start)")
    .option("--single", "one nats-server node with R1 streams, for small laptops", false)
    .option("--data-dir <dir>", "where nats-server keeps its data", DEFAULT_DATA_DIR)
    .option("--port-base <port>", `move every port to a block from this one (also ${PORT_BASE_ENV}); default: the fixed ports`, portBaseOption)
    .action(async (o: { single: boolean; dataDir: string; portBase?: string }, command: Command) => {
      let ports: StackPorts;
      try {
        ports = portsFrom(o.portBase ?? process.env[PORT_BASE_ENV]);
      } catch (err) {
        if (err instanceof RangeError) command.error(`error: ${PORT_BASE_ENV}: ${err.message}`, { exitCode: 2, code: "USAGE" });
        throw err;
      }
      const { runStack } = await loadStack();
      await runStack({ single: o.single, dataDir: o.dataDir, ports });
    });
}
