import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";

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
