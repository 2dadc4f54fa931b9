// Reads the files under schemas/ either at a git ref (branch, tag, remote branch, commit; loose or
// packed objects) through isomorphic-git, or from the working tree. No git binary is involved.
import fs from "node:fs";
import path from "node:path";
import git from "isomorphic-git";
import { NotARepositoryError, RefNotFoundError } from "../errors.ts";

/** The folder inside the repository that holds the registry. */
export const SCHEMAS_DIR = "schemas";

export interface Snapshot {
  /** The ref as the caller named it, or null for the working tree. */
  ref: string | null;
  /** The commit read, or for the working tree the HEAD commit when schemas/ is unchanged from it. */
  commit: string | null;
  /** Repository-relative POSIX paths (e.g. `schemas/order.created/v1.json`) to file text. */
  files: Map<string, string>;
}

export async function findRepoRoot(start: string): Promise<string> {
  try {
    return await git.findRoot({ fs, filepath: path.resolve(start) });
  } catch (err) {
    throw new NotARepositoryError(path.resolve(start), err);
  }
}

/**
 * Where git keeps a checkout's objects and refs. Usually `<dir>/.git`; in a linked worktree
 * (`git worktree add`) `.git` is a file `gitdir: <main>/.git/worktrees/<name>`, which holds the
 * worktree's own HEAD while objects and refs stay in the main repository's git dir (its
 * `commondir`). isomorphic-git reads one git dir, so it gets the common one, and HEAD is read here.
 */
function gitDirs(dir: string): GitDirs {
  let found = gitDirsCache.get(dir);
  if (!found) gitDirsCache.set(dir, (found = findGitDirs(dir)));
  return found;
}

interface GitDirs {
  args: { dir: string; gitdir: string };
  worktreeHead: string | null;
}
const gitDirsCache = new Map<string, GitDirs>();

function findGitDirs(dir: string): GitDirs {
  const dotGit = path.join(dir, ".git");
  const plain = { args: { dir, gitdir: dotGit }, worktreeHead: null };
  let pointer: RegExpExecArray | null;
  try {
    if (fs.statSync(dotGit).isDirectory()) return plain;
    pointer = /^gitdir:\s*(.+)$/m.exec(fs.readFileSync(dotGit, "utf8"));
  } catch {
    return plain;
  }
  if (!pointer) return plain;
  const own = path.resolve(dir, pointer[1]!.trim());
  let common = own;
  try {
    common = path.resolve(own, fs.readFileSync(path.join(own, "commondir"), "utf8").trim());
  } catch {
    // no commondir: a git dir of its own
  }
  return { args: { dir, gitdir: common }, worktreeHead: path.join(own, "HEAD") };
}

/** In a linked worktree, HEAD is the worktree's own: the ref it names, or its detached commit. */
function headRef(dir: string, ref: string): string {
  const { worktreeHead } = gitDirs(dir);
  if (ref !== "HEAD" || worktreeHead === null) return ref;
  const text = fs.readFileSync(worktreeHead, "utf8").trim();
  return text.startsWith("ref:") ? text.slice("ref:".length).trim() : text;
}

/** Reads schemas/ at `ref`, or from the working tree when `ref` is undefined. */
export async function readSnapshot(dir: string, ref?: string, cache: object = {}): Promise<Snapshot> {
  if (ref === undefined) return readWorkingTree(dir, cache);
  const commit = await resolveCommit(dir, ref, cache);
  const files = await readTreeFiles(dir, commit, cache);
  return { ref, commit, files };
}

async function resolveCommit(dir: string, ref: string, cache: object = {}): Promise<string> {
  let oid: string;
  try {
    const name = headRef(dir, ref);
    oid = /^[0-9a-f]{4,40}$/i.test(name) ? await expandOidOrRef(dir, name, cache) : await git.resolveRef({ fs, ...gitDirs(dir).args, ref: name });
    // readCommit peels annotated tags down to the commit they point at.
    const { oid: commitOid } = await git.readCommit({ fs, ...gitDirs(dir).args, oid, cache });
    return commitOid;
  } catch (err) {
    throw new RefNotFoundError(ref, err);
  }
}

async function expandOidOrRef(dir: string, ref: string, cache: object): Promise<string> {
  try {
    return await git.resolveRef({ fs, ...gitDirs(dir).args, ref });
  } catch {
    return git.expandOid({ fs, ...gitDirs(dir).args, oid: ref.toLowerCase(), cache });
  }
}

async function readTreeFiles(dir: string, commit: string, cache: object): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  let root;
  try {
    root = await git.readTree({ fs, ...gitDirs(dir).args, oid: commit, filepath: SCHEMAS_DIR, cache });
  } catch (err) {
    if ((err as { code?: string }).code === "NotFoundError") return files; // no registry at this ref yet
    throw err;
  }
  const pending: Array<{ prefix: string; entries: typeof root.tree }> = [{ prefix: SCHEMAS_DIR, entries: root.tree }];
  const blobs: Array<{ path: string; oid: string }> = [];
  while (pending.length > 0) {
    const { prefix, entries } = pending.pop()!;
    for (const entry of entries) {
      if (entry.path.startsWith(".")) continue; // same rule as the working tree
      const p = `${prefix}/${entry.path}`;
      if (entry.type === "tree") {
        const sub = await git.readTree({ fs, ...gitDirs(dir).args, oid: entry.oid, cache });
        pending.push({ prefix: p, entries: sub.tree });
      } else if (entry.type === "blob") {
        blobs.push({ path: p, oid: entry.oid });
      }
    }
  }
  for (const blob of blobs) {
    const { blob: bytes } = await git.readBlob({ fs, ...gitDirs(dir).args, oid: blob.oid, cache });
    files.set(blob.path, Buffer.from(bytes).toString("utf8"));
  }
  return files;
}

async function readWorkingTree(dir: string, cache: object): Promise<Snapshot> {
  const files = new Map<string, string>();
  const root = path.join(dir, SCHEMAS_DIR);
  const walk = (abs: string, rel: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(abs, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue; // editor and OS droppings, never part of the registry
      const a = path.join(abs, entry.name);
      const r = `${rel}/${entry.name}`;
      if (entry.isDirectory()) walk(a, r);
      else if (entry.isFile()) files.set(r, fs.readFileSync(a, "utf8"));
    }
  };
  walk(root, SCHEMAS_DIR);
  return { ref: null, commit: await headIfUnchanged(dir, files, cache), files };
}

/** The HEAD commit when the working tree's schemas/ holds exactly HEAD's files; otherwise null. */
async function headIfUnchanged(dir: string, files: Map<string, string>, cache: object): Promise<string | null> {
  let head: string;
  try {
    head = await resolveCommit(dir, "HEAD", cache);
  } catch {
    return null;
  }
  const committed = new Map<string, string>();
  try {
    await collectOids(dir, head, committed, cache);
  } catch {
    return null;
  }
  if (committed.size !== files.size) return null;
  for (const [p, text] of files) {
    const oid = committed.get(p);
    if (oid === undefined) return null;
    const { oid: actual } = await git.hashBlob({ object: Buffer.from(text, "utf8") });
    if (actual !== oid) return null;
  }
  return head;
}

async function collectOids(dir: string, commit: string, out: Map<string, string>, cache: object): Promise<void> {
  let root;
  try {
    root = await git.readTree({ fs, ...gitDirs(dir).args, oid: commit, filepath: SCHEMAS_DIR, cache });
  } catch {
    return;
  }
  const pending = [{ prefix: SCHEMAS_DIR, entries: root.tree }];
  while (pending.length > 0) {
    const { prefix, entries } = pending.pop()!;
    for (const entry of entries) {
      if (entry.path.startsWith(".")) continue;
      const p = `${prefix}/${entry.path}`;
      if (entry.type === "tree") pending.push({ prefix: p, entries: (await git.readTree({ fs, ...gitDirs(dir).args, oid: entry.oid, cache })).tree });
      else if (entry.type === "blob") out.set(p, entry.oid);
    }
  }
}
