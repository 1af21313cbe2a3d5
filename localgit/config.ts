import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { gitFailed, runGit } from "./run.ts";

/**
 * A repository's git config, read and written through git (so includes, scopes and locking are git's).
 * Names are case-insensitive in git; they are lowercased here.
 */

/**
 * Every setting git sees for the repository: name → its values, in order (the last one wins). `gitDir`
 * undefined: the repository of the current folder.
 */
export async function readConfig(gitDir: string | undefined): Promise<Map<string, string[]>> {
  const { stdout, code } = await runGit(CONFIG_LIST, { ...(gitDir ? { gitDir } : {}), okCodes: [1, 128] });
  return configFromList(stdout, code);
}

/** The git command readConfig runs (bin/git-remote-cloudbridge runs the same one itself). */
export const CONFIG_LIST = ["config", "--null", "--list"] as const;

/**
 * readConfig's answer from what `git config --null --list` printed and its exit code, however it was run:
 * 1 and 128 (no configuration, or one git cannot read) give no settings, any other failure is thrown.
 */
export function configFromList(stdout: Buffer | string, code: number): Map<string, string[]> {
  if (code !== 0 && code !== 1 && code !== 128) throw gitFailed(CONFIG_LIST, { code, stderr: "" });
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

/**
 * The files git reads a repository's settings from, whether they exist yet or not, as git finds them: the
 * system file (GIT_CONFIG_SYSTEM, else /etc/gitconfig; none with GIT_CONFIG_NOSYSTEM), the global ones
 * (GIT_CONFIG_GLOBAL, else $XDG_CONFIG_HOME/git/config and ~/.gitconfig), the repository's config and
 * config.worktree. Files they include are not known before reading them: see `configOrigins`.
 */
export function configFiles(gitDir: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const files: string[] = [];
  if (!["1", "true", "yes", "on"].includes((env.GIT_CONFIG_NOSYSTEM ?? "").toLowerCase()))
    files.push(env.GIT_CONFIG_SYSTEM || "/etc/gitconfig");
  if (env.GIT_CONFIG_GLOBAL) files.push(env.GIT_CONFIG_GLOBAL);
  else {
    const home = env.HOME || homedir();
    files.push(join(env.XDG_CONFIG_HOME || join(home, ".config"), "git", "config"), join(home, ".gitconfig"));
  }
  files.push(join(gitDir, "config"), join(gitDir, "config.worktree"));
  return files.map((file) => resolve(file));
}

/**
 * `git config --null --list --show-origin` read: each setting (lowercased name, value) and the file it came
 * from (undefined for one not from a file: the command line, a blob). Relative paths are git's, from this
 * process's folder (git runs there).
 */
export function parseConfigWithOrigins(stdout: string): { name: string; value: string; file: string | undefined }[] {
  const fields = stdout.split("\0");
  const settings: { name: string; value: string; file: string | undefined }[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const [origin, record] = [fields[i]!, fields[i + 1]!];
    const newline = record.indexOf("\n");
    if (newline <= 0) continue;
    const file = origin.startsWith("file:") ? resolve(origin.slice("file:".length)) : undefined;
    settings.push({ name: record.slice(0, newline).toLowerCase(), value: record.slice(newline + 1), file });
  }
  return settings;
}

/**
 * The files a listing read (`parseConfigWithOrigins`) depends on: those its settings came from, and those
 * its `include.path` / `includeIf.<condition>.path` name, which may not exist yet (git skips a missing one):
 * a path relative to the file that names it, `~/` in the home folder.
 */
export function configFilesOf(settings: readonly { name: string; value: string; file: string | undefined }[], env = process.env): string[] {
  const files = new Set<string>();
  for (const { name, value, file } of settings) {
    if (file !== undefined) files.add(file);
    if (value === "" || !(name === "include.path" || (name.startsWith("includeif.") && name.endsWith(".path")))) continue;
    if (value.startsWith("~/")) files.add(resolve(env.HOME || homedir(), value.slice(2)));
    else if (file !== undefined) files.add(resolve(dirname(file), value));
    else files.add(resolve(value));
  }
  return [...files];
}
