import { realpath } from "node:fs/promises";
import { runDaemons } from "../../daemon.ts";
import { createLogger } from "../../log.ts";
import { findFolder, SETTING_NAMES } from "../../folder/index.ts";
import { startGitFromSpawner } from "../../../localgit/index.ts";

export async function daemonCommand(
  dirs: string[],
  options: {
    listen?: string;
    pollInterval?: string;
    reconcileInterval?: string;
    debounce?: string;
    uiPort?: string;
    compactAbove?: string;
    settle?: string;
    jsonLog?: boolean;
  },
): Promise<void> {
  // Overrides for this run only: git's own command-line configuration (GIT_CONFIG_COUNT/KEY/VALUE), never written.
  const overrides: Array<[string, string]> = [];
  if (options.listen) overrides.push([SETTING_NAMES.listen, options.listen]);
  if (options.pollInterval) overrides.push([SETTING_NAMES.pollInterval, options.pollInterval]);
  if (options.reconcileInterval) overrides.push([SETTING_NAMES.reconcileInterval, options.reconcileInterval]);
  if (options.debounce) overrides.push([SETTING_NAMES.debounce, `${options.debounce}ms`]);
  if (options.uiPort) overrides.push([SETTING_NAMES.uiPort, options.uiPort]);
  if (options.compactAbove) overrides.push([SETTING_NAMES.compactAbove, options.compactAbove]);
  if (options.settle) overrides.push([SETTING_NAMES.settle, `${options.settle}ms`]);
  overrides.forEach(([key, value], i) => {
    process.env[`GIT_CONFIG_KEY_${i}`] = key;
    process.env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  if (overrides.length) process.env.GIT_CONFIG_COUNT = String(overrides.length);
  const log = createLogger({ ...(options.jsonLog ? { json: true } : {}) });
  // A daemon grows with its folder, and each git process it forked would copy its page tables: git is
  // started from a small process of its own instead (localgit/git-spawner.pl).
  startGitFromSpawner();
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const onSignal = () => stop();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    await runDaemons(dirs.length ? await eachFolderOnce(dirs) : [await findFolder()], { log, stopped });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/**
 * The folders named, each once however it was named (`A` and `A/`, a subfolder of it, a symlink to it), as
 * every command finds its folder: one process serving one folder twice ran two sets of rounds, watchers and
 * listeners on it, which took turns only through the folder lock (and its socket and status file are one each).
 */
export async function eachFolderOnce(dirs: readonly string[]): Promise<string[]> {
  const roots = new Map<string, string>();
  for (const dir of dirs) {
    const root = await findFolder(dir);
    const same = await realpath(root).catch(() => root);
    if (!roots.has(same)) roots.set(same, root);
  }
  return [...roots.values()];
}
