import { runGit } from "./run.ts";

/**
 * A repository's git config, read and written through git (so includes, scopes and locking are git's).
 * Names are case-insensitive in git; they are lowercased here.
 */

/**
 * Every setting git sees for the repository: name → its values, in order (the last one wins). `gitDir`
 * undefined: the repository of the current folder.
 */
export async function readConfig(gitDir: string | undefined): Promise<Map<string, string[]>> {
  const { stdout, code } = await runGit(["config", "--null", "--list"], { ...(gitDir ? { gitDir } : {}), okCodes: [1, 128] });
  const all = new Map<string, string[]>();
  if (code !== 0) return all;
  for (const record of stdout.toString().split("\0")) {
    const newline = record.indexOf("\n");
    if (newline <= 0) continue;
    const name = record.slice(0, newline).toLowerCase();
    all.set(name, [...(all.get(name) ?? []), record.slice(newline + 1)]);
  }
  return all;
}

/** One setting's value, or undefined when it is not set. `gitDir` undefined: the repository of the current folder. */
export async function getConfig(gitDir: string | undefined, name: string): Promise<string | undefined> {
  const run = await runGit(["config", "--get", name], { ...(gitDir ? { gitDir } : {}), okCodes: [1] });
  return run.code === 0 ? run.stdout.toString().trim() : undefined;
}

export async function setConfig(gitDir: string, name: string, value: string): Promise<void> {
  await runGit(["config", name, value], { gitDir });
}
