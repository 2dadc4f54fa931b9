// The runnable examples of the docs (docs/README.md, "Runnable examples"): fenced blocks whose
// info string is `sh runnable`, each with the heading it stands under, and the one change a test
// makes before running one — the local stack's fixed ports become the test stack's ports.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { STACK_PORTS, stackPorts, type StackPorts } from "../../scripts/index.ts";

export interface RunnableBlock {
  /** Relative to the repository root, e.g. `docs/subscribers.md`. */
  file: string;
  /** The nearest heading above the block. */
  heading: string;
  /** 1-based line of the opening fence. */
  line: number;
  script: string;
}

/** The only fence that marks a block as runnable. */
const RUNNABLE_FENCE = /^```sh runnable$/;
/** A fence that looks meant to be runnable but is not written the one way the test reads. */
const MISSPELT_FENCE = /^\s*`{3,}.*\brunnable\b/;

/** README.md first, then docs/*.md in name order: the order a reader meets them. */
export function docFiles(root: string): string[] {
  const docs = readdirSync(join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`);
  return ["README.md", ...docs];
}

/** The runnable blocks of one markdown text, in page order. Throws on a misspelt or unclosed runnable fence. */
export function runnableBlocks(file: string, text: string): RunnableBlock[] {
  const lines = text.split("\n");
  const blocks: RunnableBlock[] = [];
  let heading = "(top)";
  let fence: { runnable: boolean; line: number; body: string[] } | undefined;
  for (const [i, line] of lines.entries()) {
    if (fence) {
      if (/^```\s*$/.test(line)) {
        if (fence.runnable) blocks.push({ file, heading, line: fence.line, script: fence.body.join("\n") });
        fence = undefined;
      } else fence.body.push(line);
      continue;
    }
    if (RUNNABLE_FENCE.test(line)) fence = { runnable: true, line: i + 1, body: [] };
    else if (MISSPELT_FENCE.test(line)) throw new Error(`${file}:${i + 1}: a runnable block opens with exactly "\`\`\`sh runnable", not ${JSON.stringify(line)}`);
    else if (/^```/.test(line)) fence = { runnable: false, line: i + 1, body: [] };
    else if (/^#{1,6} /.test(line)) heading = line.replace(/^#+ /, "").trim();
  }
  if (fence?.runnable) throw new Error(`${file}:${fence.line}: the runnable block is never closed`);
  return blocks;
}

export function allRunnableBlocks(root: string): RunnableBlock[] {
  return docFiles(root).flatMap((file) => runnableBlocks(file, readFileSync(join(root, file), "utf8")));
}

/**
 * The examples run processes of their own on 8792 and 8793 (a receiver, a second edge), next to the
 * stack's 8787–8791; in a test block they take the base's offsets 5 and 6, which the stack leaves free.
 */
export const OWN_PORTS: ReadonlyArray<{ fixed: number; offset: number }> = [
  { fixed: 8792, offset: 5 },
  { fixed: 8793, offset: 6 },
];

/** Fixed port → the same role's port in the stack on `base`. */
export function portMap(base: number): Map<number, number> {
  const moved: StackPorts = stackPorts(base);
  const map = new Map<number, number>([
    [STACK_PORTS.edge, moved.edge],
    [STACK_PORTS.bridge, moved.bridge],
    [STACK_PORTS.receiver, moved.receiver],
  ]);
  for (const key of ["nats", "websocket", "routes", "monitor"] as const) {
    STACK_PORTS[key].forEach((port, i) => map.set(port, moved[key][i]!));
  }
  for (const { fixed, offset } of OWN_PORTS) map.set(fixed, base + offset);
  return map;
}

/** Rewrites every whole number in the script that is a fixed port; nothing else changes. */
export function rewritePorts(script: string, map: Map<number, number>): string {
  return script.replace(/(?<![0-9])[0-9]{4,5}(?![0-9])/g, (digits) => String(map.get(Number(digits)) ?? digits));
}
