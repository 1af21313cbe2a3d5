import { mkdtemp, readdir, readFile, readlink, lstat, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";

/** A scratch directory removed by `cleanup`. */
export async function scratch(name: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `cb-${name}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Every file under `root` (outside .git and the agent's temporary files): path → content (symlinks as "-> target"). */
export async function snapshot(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string): Promise<void> => {
    for (const entry of await readdir(join(root, rel), { withFileTypes: true })) {
      if (entry.name === ".git" || entry.name.startsWith(".cloudbridge-tmp-")) continue;
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(path);
      else if (entry.isSymbolicLink()) out[path] = `-> ${await readlink(join(root, path))}`;
      else out[path] = await readFile(join(root, path), "utf8");
    }
  };
  await walk("");
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

export async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

export function gitIn(dir: string, args: string[], input?: string): string {
  return execFileSync("git", args, { cwd: dir, input, encoding: "utf8", env: { ...process.env, GIT_DIR: join(dir, ".git") } }).trim();
}
