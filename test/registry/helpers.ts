// Real git repositories in temp dirs, made with isomorphic-git (no git binary), for the registry tests.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import git from "isomorphic-git";
import type { TestContext } from "node:test";

export const AUTHOR = { name: "Test", email: "test@example.com", timestamp: 1_700_000_000, timezoneOffset: 0 };
export const ID_BASE = "https://schemas.jetgate.dev/";
export const REPO_ROOT = path.resolve(import.meta.dirname, "..", "..");

/** A temp dir inside the checkout (gitignored .jetgate/), so generated code resolves `ajv` from node_modules. */
export function repoTempDir(t: TestContext, label: string): string {
  const base = path.join(REPO_ROOT, ".jetgate", "tmp");
  fs.mkdirSync(base, { recursive: true });
  const dir = fs.mkdtempSync(path.join(base, `${label}-`));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export class Repo {
  constructor(readonly dir: string) {}

  static async create(t: TestContext, where: "os" | "repo" = "os"): Promise<Repo> {
    let dir: string;
    if (where === "repo") dir = repoTempDir(t, "repo");
    else {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "jetgate-registry-"));
      t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    }
    await git.init({ fs, dir, defaultBranch: "main" });
    return new Repo(dir);
  }

  /** Writes files (objects are written as pretty JSON). */
  write(files: Record<string, unknown>): this {
    for (const [rel, content] of Object.entries(files)) {
      const abs = path.join(this.dir, rel);
      fs.mkdirSync(path.dirname(abs), { recursive: true });
      fs.writeFileSync(abs, typeof content === "string" ? content : `${JSON.stringify(content, null, 2)}\n`);
    }
    return this;
  }

  remove(rel: string): this {
    fs.rmSync(path.join(this.dir, rel), { recursive: true, force: true });
    return this;
  }

  /** Stages the whole work tree (deletions included) and commits on the current branch. */
  async commit(message: string): Promise<string> {
    const matrix = await git.statusMatrix({ fs, dir: this.dir });
    for (const [filepath, head, workdir] of matrix) {
      if (workdir === 0 && head === 1) await git.remove({ fs, dir: this.dir, filepath });
      else if (workdir !== 1 || head !== 1) await git.add({ fs, dir: this.dir, filepath });
    }
    return git.commit({ fs, dir: this.dir, message, author: AUTHOR });
  }

  /** A new branch at HEAD, checked out: what a pull request starts from. */
  async branch(name: string): Promise<void> {
    await git.branch({ fs, dir: this.dir, ref: name, checkout: true });
  }

  async checkout(name: string): Promise<void> {
    await git.checkout({ fs, dir: this.dir, ref: name, force: true });
  }

  async tag(name: string, annotated = false): Promise<void> {
    if (annotated) await git.annotatedTag({ fs, dir: this.dir, ref: name, message: name, tagger: AUTHOR });
    else await git.tag({ fs, dir: this.dir, ref: name });
  }
}

type Json = Record<string, unknown>;

/** A version file's content: `$id` filled in, closed object unless the body says otherwise. */
export function version(type: string, n: number, body: Json): Json {
  return { $schema: "https://json-schema.org/draft/2020-12/schema", $id: `${ID_BASE}${type}/v${n}.json`, description: `${type} v${n}`, ...body };
}

export function typeSettings(compatibility: string, extra: Json = {}): Json {
  return { description: "test type", owners: ["team@example.com"], compatibility, ...extra };
}

/** Files for one type: settings, versions (bodies) and one example per version when given. */
export function typeFiles(type: string, compatibility: string, bodies: Json[], examples: unknown[] = []): Record<string, unknown> {
  const files: Record<string, unknown> = { [`schemas/${type}/type.json`]: typeSettings(compatibility) };
  bodies.forEach((b, i) => (files[`schemas/${type}/v${i + 1}.json`] = version(type, i + 1, b)));
  examples.forEach((e, i) => {
    if (e !== undefined) files[`schemas/${type}/examples/v${i + 1}.json`] = e;
  });
  return files;
}

export const MONEY = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  $id: `${ID_BASE}_common/money.json`,
  description: "money",
  type: "object",
  properties: { amount: { type: "string", pattern: "^[0-9]+(\\.[0-9]+)?$" }, currency: { type: "string", pattern: "^[A-Z]{3}$" } },
  required: ["amount", "currency"],
  additionalProperties: false,
};
